"""Damaged state ends in a recovery or one line naming the file (issue 23, class 3): a search's snapshots,
controller file and config, a latency profile, a model card beside a .pb, a training checkpoint."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from bad_input import one_line_error, snapshot
from click.testing import CliRunner

from falsr_cli.cli import main

SEARCH = ["search", "--evaluator", "proxy", "--n", "2", "--pop", "4", "--workers", "0", "--p-exploit", "0.5",
          "--seed", "1"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A 2-generation proxy search with the RL controller (snapshots gen_0001, gen_0002)."""
    out = tmp_path_factory.mktemp("search") / "s"
    result = CliRunner().invoke(main, [*SEARCH, "--generations", "2", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _front(folder: Path) -> list[str]:
    return [m["hash"] for m in json.loads((folder / "pareto.json").read_text())["front"]]


def test_a_damaged_snapshot_or_controller_file_resumes_from_the_one_before(searched, tmp_path):
    runner = CliRunner()
    intact = tmp_path / "intact"
    shutil.copytree(searched, intact)
    assert runner.invoke(main, ["search", "--resume", "--generations", "3", "-q", "--out", str(intact)]
                         ).exit_code == 0
    damages = {
        "empty state": lambda s: (s / "state" / "gen_0002" / "state.json").write_text("{}"),
        "cut state": lambda s: (s / "state" / "gen_0002" / "state.json").write_text('{"algorithm": {"X"'),
        "edited state": lambda s: (s / "state" / "gen_0002" / "state.json").write_text(
            '{"algorithm": {"X": [[1]]}, "generation": 2}'),
        "truncated controller": lambda s: (s / "state" / "gen_0002" / "controller.npz").write_bytes(
            (s / "state" / "gen_0002" / "controller.npz").read_bytes()[:100]),
        "journal line": lambda s: (s / "evaluations.jsonl").open("a").write('{"seq": 99}\n'),
    }
    for name, damage in damages.items():
        run = tmp_path / name.replace(" ", "_")
        shutil.copytree(searched, run)
        damage(run)
        result = runner.invoke(main, ["search", "--resume", "--generations", "3", "--out", str(run)])
        assert result.exit_code == 0, (name, result.output)
        assert "Traceback" not in result.output
        if name != "journal line":
            assert "is damaged" in result.stderr and "resuming from the one before it" in result.stderr, name
        # The restored generator and the journal give exactly the uninterrupted search's front.
        assert _front(run) == _front(intact), name


def test_an_edited_search_config_is_one_line_naming_the_file(searched, tmp_path):
    run = tmp_path / "s"
    shutil.copytree(searched, run)
    config = json.loads((run / "config.json").read_text())
    runner = CliRunner()
    for key, value, message in [("n", "two", "n: must be an integer"), ("pop", -4, "pop: must be an integer"),
                                ("crowding", 7, "crowding: must be one of")]:
        (run / "config.json").write_text(json.dumps({**config, key: value}))
        before = snapshot(run)
        line = one_line_error(runner.invoke(main, ["search", "--resume", "--out", str(run)]))
        assert line.startswith(f"error: {run / 'config.json'}: {message}") and "start a new --out" in line
        assert snapshot(run) == before


def test_a_damaged_latency_profile_is_rebuilt_or_named(tmp_path, monkeypatch):
    import falsr_cli.models.latency as M
    from falsr_cli.errors import FalsrError

    path = M.profile_path("xnnpack", 1, (16, 16), 2, 32, tmp_path)
    path.parent.mkdir(parents=True)
    whole = {"format": "falsr-latency-profile", "runtime": "xnnpack", "threads": 1, "input": [16, 16],
             "scale": 2, "features": 32, "ops": {"conv": 1.0}, "seconds": 1, "machine": {"cpu": "x"},
             "calibration": {"a": 1.0, "b": 0.0, "networks": []}}
    damages = [({"format": "falsr-latency-profile"}, "runtime is None, its name says 'xnnpack'"),
               ({**whole, "calibration": {"a": 1.0}}, "no calibration"),
               ({**whole, "threads": 2}, "threads is 2, its name says 1"),  # copied from another key
               ({**whole, "ops": {"conv": "fast"}}, "no operation times"),
               ({**whole, "calibration": {**whole["calibration"], "groups": {"conv3": "x"}, "b_groups": 0.0}},
                "a damaged calibration by operation family")]
    monkeypatch.setattr(M, "build_profile", lambda *a, **k: whole)
    monkeypatch.setattr(M, "check_memory", lambda *a, **k: None)
    for damaged, why in damages:
        path.write_text(json.dumps(damaged))
        with pytest.raises(FalsrError, match=re.escape(f"the latency profile {path} is damaged ({why}); run "
                                                       "`falsr latency profile --runtime xnnpack --threads 1 "
                                                       "--input 16x16 --rebuild`")):
            M.load_profile("xnnpack", 1, (16, 16), data_dir=tmp_path, build=False)
        assert M.load_profile("xnnpack", 1, (16, 16), data_dir=tmp_path)[0] == whole  # rebuilt
        assert json.loads(path.read_text()) == whole


def test_a_model_card_with_a_null_score_breaks_no_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = tmp_path / "pretrained_model"
    shipped.mkdir()
    (shipped / "mine.pb").write_bytes(b"a graph")
    (shipped / "mine.json").write_text(json.dumps({"scores": {"Set5": {"psnr": None}, "Set14": None},
                                                   "training": None, "architecture_name": "x"}))
    (shipped / "bad.pb").write_bytes(b"a graph")
    (shipped / "bad.json").write_text(json.dumps({"scores": ["not", "a", "dict"]}))
    before = snapshot(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(main, ["model", "list", "--json", "--data-dir", str(tmp_path / "d")])
    assert listed.exit_code == 0, listed.output
    names = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    assert "mine" in names and "bad" not in names and names["mine"]["description"] == "x trained by falsr"
    assert runner.invoke(main, ["model", "path", "mine", "--data-dir", str(tmp_path / "d")]).exit_code == 0
    line = one_line_error(runner.invoke(main, ["model", "path", "bad", "--data-dir", str(tmp_path / "d")]))
    assert "unknown model: bad" in line
    assert snapshot(tmp_path) == before


def test_a_damaged_latest_checkpoint_gives_way_to_an_older_intact_one(tmp_path):
    args = ["train", "--arch", "x2-f8:conv_f16_k3_b1_noskip:0", "--data", "samples", "--val", "none",
            "--batch", "2", "--patch", "16", "--ckpt-every", "2", "--steps", "4", "-q", "--json",
            "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run")]
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    newest = tmp_path / "run" / "checkpoints" / "step_000000004"
    for f in newest.glob("ckpt.data*"):
        f.write_bytes(f.read_bytes()[:10])
    (tmp_path / "run" / "model.keras").unlink()
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any("cannot restore checkpoint" in n and "passed over" in n for n in notes), notes
    assert any("resumed from the intact checkpoint" in n and "step_000000002" in n for n in notes), notes
    assert (tmp_path / "run" / "model.keras").is_file()
    for f in (tmp_path / "run" / "checkpoints").iterdir():  # every one whole again: none half written
        assert (f / "ckpt.index").is_file()
    for f in (tmp_path / "run" / "checkpoints" / "step_000000002").glob("ckpt.data*"):
        f.write_bytes(b"")
    for f in newest.glob("ckpt.data*"):
        f.write_bytes(b"")
    line = one_line_error(runner.invoke(main, args))
    assert "no checkpoint in" in line and "can be read" in line and "step_000000004" in line
