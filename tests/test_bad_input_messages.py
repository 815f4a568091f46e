"""No silence, no wrong pointers (issue 23, class 7): long work shows progress; every error names what the
user typed — the option, the config file's key, the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input import one_line_error, snapshot
from click.testing import CliRunner

from falsr_cli.cli import main


def test_a_search_that_builds_a_latency_profile_says_so_as_it_goes(tmp_path, monkeypatch):
    import falsr_cli.models.latency as M
    from falsr_cli.errors import FalsrError

    def slow_build(runtime, threads, hw, scale, features, progress=None, **_):
        for stage, total in (("operations", 40), ("calibration networks", 8)):
            for done in range(1, total + 1):
                progress(stage, done, total)
        raise FalsrError("stopped here: the test is about what was said before")

    monkeypatch.setattr(M, "build_profile", slow_build)
    result = CliRunner().invoke(main, ["search", "--evaluator", "proxy", "--n", "2", "--pop", "2",
                                       "--workers", "0", "--latency-max", "40ms", "--latency-threads", "1",
                                       "--latency-input", "16x16", "--data-dir", str(tmp_path),
                                       "--out", str(tmp_path / "s")])
    lines = result.stderr.splitlines()
    assert "building this machine's latency profile, once (a few minutes)" in result.stderr
    said = [line for line in lines if line.startswith("latency profile: ")]
    assert said[0] == "latency profile: operations 1/40" and "latency profile: operations 40/40" in said
    assert "latency profile: calibration networks 8/8" in said
    assert 10 <= len(said) <= 25  # a line per tenth of each stage, not one per operation
    assert lines[-1] == "error: stopped here: the test is about what was said before"


@pytest.mark.parametrize("args,named", [
    (["--flops-max", "lots"], "error: --flops-max: "),
    (["--latency-max", "40ms", "--latency-input", "big"], "error: --latency-input: 'big' is not HxW"),
    (["--latency-max", "fast"], "error: --latency-max: "),
    (["--scheduler", "nowhere"], "error: --scheduler: 'nowhere' is not a Dask scheduler address"),
])
def test_search_errors_name_the_flag_the_user_typed(tmp_path, args, named):
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["search", "--evaluator", "proxy", *args, "--out", str(tmp_path / "s")])
    assert one_line_error(result).startswith(named)
    assert snapshot(tmp_path) == before


def test_errors_of_a_config_file_and_of_train_name_the_key_or_the_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("search.toml").write_text('pop = 1\nevaluator = "proxy"\n')
    before = snapshot(tmp_path)
    runner = CliRunner()
    line = one_line_error(runner.invoke(main, ["search", "--config", "search.toml", "--out", "s"]))
    assert line == "error: search.toml: pop: must be an integer ≥ 2, got 1"
    train = ["train", "--arch", "FALSR-C", "--data", "samples", "--out", "run"]
    assert one_line_error(runner.invoke(main, [*train, "--patch", "25"])).startswith(
        "error: --patch: 25 is not a multiple of the scale 2")
    assert one_line_error(runner.invoke(main, [*train, "--steps", "5", "--warmup", "10"])).startswith(
        "error: --warmup: 10 steps is not shorter than the run")
    assert snapshot(tmp_path) == before and not Path("run").exists()
