"""`falsr latency`: measuring networks, building a profile, and a latency-constrained search (tiny sizes).

No figure here is a speed target: these check what is measured and recorded, not how fast it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_cli.atomic import read_jsonl
from falsr_cli.cli import main
from falsr_cli.cost.latency_model import GROUPS, PROFILE_FORMAT, predict_ms, profile_ops
from falsr_cli.space.architecture import PRESETS

TINY = "8x8"


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    res = _run("latency", "profile", "--runtime", "xnnpack", "--threads", "1", "--input", TINY,
               "--data-dir", str(data), "--json")
    assert res.exit_code == 0, res.output
    return data


def test_measure_an_architecture_in_two_runtimes() -> None:
    for runtime in ("tf", "xnnpack-fp16"):
        res = _run("latency", "FALSR-C", "--runtime", runtime, "--threads", "1", "--input", "12x10",
                   "--runs", "2", "--warmup", "1", "--json")
        assert res.exit_code == 0, res.output
        r = json.loads(res.output)
        assert r["runtime"] == runtime and r["input"] == [12, 10] and len(r["samples_ms"]) == 2
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert r["machine"]["cpu"] and "cpu_flags" in r["machine"]
        assert r["architecture"] == PRESETS["FALSR-C"].to_text()


def test_profile_is_cached_per_machine_and_predicts(profile_dir: Path) -> None:
    files = list((profile_dir / "latency").glob("*-xnnpack-t1-8x8-x2f32.json"))
    assert len(files) == 1
    profile = json.loads(files[0].read_text())
    assert profile["format"] == PROFILE_FORMAT and profile["machine"]["id"] in files[0].name
    assert set(profile["ops"]) == {op.key for op in profile_ops()}
    cal = profile["calibration"]
    assert len(cal["networks"]) == 16
    assert all(sum(n["parts"].values()) == pytest.approx(n["raw_ms"]) for n in cal["networks"])
    assert set(cal["groups"]) <= set(GROUPS) and min(cal["groups"].values()) >= 0 and cal["b_groups"] >= 0
    assert predict_ms(PRESETS["FALSR-A"], profile) > 0
    # measuring with the same runtime, threads and input shows the prediction beside the measurement
    res = _run("latency", "FALSR-B", "--runtime", "xnnpack", "--threads", "1", "--input", TINY, "--runs", "2",
               "--data-dir", str(profile_dir), "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["predicted_ms"] == pytest.approx(predict_ms(PRESETS["FALSR-B"], profile))
    # a second `profile` reuses the cache (no new measurement: the file is unchanged)
    before = files[0].read_bytes()
    assert _run("latency", "profile", "--runtime", "xnnpack", "--threads", "1", "--input", TINY,
                "--data-dir", str(profile_dir)).exit_code == 0
    assert files[0].read_bytes() == before


def test_bad_latency_input_is_a_one_line_error() -> None:
    res = _run("latency", "FALSR-B", "--input", "big")
    assert res.exit_code == 1 and "--input 'big' is not HxW" in res.output and "Traceback" not in res.output
    res = _run("latency", "no-such-model")
    assert res.exit_code == 1 and "error:" in res.output


def test_search_with_a_latency_budget(profile_dir: Path, tmp_path: Path) -> None:
    profile = json.loads(next((profile_dir / "latency").glob("*.json")).read_text())
    out = tmp_path / "s"
    # A budget between the fastest and the slowest candidates of the demo's space (2 cells).
    args = ["search", "--preset", "demo", "--cells", "2", "--pop", "4", "--generations", "2",
            "--p-exploit", "0",
            "--train-steps", "2", "--patch", "16", "--batch", "2", "--workers", "0", "--out", str(out),
            "--latency-runtime", "xnnpack", "--latency-threads", "1", "--latency-input", TINY,
            "--data-dir", str(profile_dir)]
    calib = sorted(n["measured_ms"] for n in profile["calibration"]["networks"])
    budget = round(calib[len(calib) // 2], 4)
    res = _run(*args, "--latency-max", f"{budget}ms")
    assert res.exit_code in (0, 1), res.output  # 1 only if every candidate broke the budget
    records = read_jsonl(out / "evaluations.jsonl")
    timed = [r for r in records if "latency_predicted_ms" in r]
    assert timed and all(r["latency_ms"] > 0 for r in timed)
    for r in timed:  # the latency that decided (measured near the budget, else predicted) against the budget
        broke = r["status"] == "skipped_cost" and "latency_max" in r["reason"]
        assert broke == (r["latency_ms"] > budget), r
        assert r["constraints"]["latency_max"] == pytest.approx(r["latency_ms"] / budget - 1)
        if "latency_measured_ms" in r:
            assert abs(r["latency_predicted_ms"] / budget - 1) <= 0.15
    if res.exit_code == 0:
        doc = json.loads((out / "pareto.json").read_text())
        for m in doc["front"]:
            assert m["latency_predicted_ms"] > 0 and m["latency_measured_ms"] > 0


def test_search_with_latency_as_an_objective(profile_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    profile = json.loads(next((profile_dir / "latency").glob("*.json")).read_text())
    budget = round(max(n["measured_ms"] for n in profile["calibration"]["networks"]) * 4, 4)
    res = _run("search", "--preset", "demo", "--cells", "2", "--pop", "2", "--generations", "1",
               "--train-steps",
               "2", "--patch", "16", "--batch", "2", "--workers", "0", "--out", str(out), "--latency-runtime",
               "xnnpack", "--latency-threads", "1", "--latency-input", TINY, "--data-dir", str(profile_dir),
               "--latency-max", f"{budget}ms", "--objectives", "psnr,latency,params")
    assert res.exit_code == 0, res.output
    assert "predicted ms" in res.output and "measured ms" in res.output
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["reference_point"]["speed"] == "latency_ms" and doc["reference_point"]["latency_ms"] == budget
    assert doc["hypervolume"] > 0
    res = _run("search", "--preset", "demo", "--out", str(tmp_path / "t"),
               "--objectives", "psnr,latency,params")
    assert res.exit_code == 1 and "needs --latency-max" in res.output


def test_engines_are_timed_in_turns() -> None:
    """time_interleaved: warm-up rounds untimed, then one call of each per round, `runs` rounds."""
    from falsr_cli.models.latency import time_interleaved

    calls: list[str] = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = time_interleaved(fns, runs=3, warmup=2)
    assert calls == ["a", "b"] * 5
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3} and min(times["a"]) >= 0


def test_measure_an_exported_tflite_as_it_is(tmp_path: Path) -> None:
    from export_models import shared_tiny

    from falsr_cli.export.exporter import export_model

    arch, model = shared_tiny()
    for interface in ("y", "falsr"):
        path = tmp_path / f"{interface}.tflite"
        export_model(model, path, "tflite", interface=interface, arch=arch, quantize="int8")
        res = _run("latency", "measure", str(path), "--threads", "1", "--input", "12x10", "--runs", "2",
                   "--warmup", "1", "--json")
        assert res.exit_code == 0, res.output
        r = json.loads(res.output)
        assert r["runtime"] == "tflite file (xnnpack)" and r["input"] == [12, 10]
        assert len(r["samples_ms"]) == 2
        assert r["architecture"] == arch.to_text() and r["predicted_ms"] is None
    # the file's quantization is its own: another runtime is refused, not silently ignored
    res = _run("latency", "measure", str(tmp_path / "y.tflite"), "--runtime", "xnnpack-int8")
    assert res.exit_code == 1 and "runs as it was exported" in res.output and "Traceback" not in res.output
