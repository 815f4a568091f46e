"""A budget is a promise (issue 23, class 2): no latency prediction below its measured parts' sum times the
smallest share of it any calibration network ran at (nor below zero), and the search's final measurement
decides who is on the front — a member measured over --latency-max leaves it, and the result says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.cost import latency_model as L
from falsr_cli.space.architecture import PRESETS, load_architecture

TINY = "x2-f8:conv_f16_k3_b1_noskip:0"


def _write_profile(data_dir: Path, runtime: str, features: int, hw: tuple[int, int], b: float,
                   ratio: float = 2.0) -> dict:
    """A cached profile of this machine whose calibration line has intercept `b` (ms), calibrated on one
    network that ran at `ratio` × the sum of its operations."""
    from falsr_cli.machine import describe
    from falsr_cli.models.latency import profile_path

    ops = {op.key: 0.01 for op in L.profile_ops(2, features)}
    profile = {"format": L.PROFILE_FORMAT, "machine": {**describe(), "id": "test"}, "tensorflow": "x",
               "runtime": runtime, "threads": 1, "input": list(hw), "scale": 2, "features": features,
               "runs": 1, "warmup": 0, "seconds": 1.0, "created": "now", "call_overhead_ms": 0.0, "ops": ops,
               "calibration": {"a": 0.5, "b": b,
                               "networks": [{"text": "x", "raw_ms": 1.0, "measured_ms": ratio}]}}
    path = profile_path(runtime, 1, hw, 2, features, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile))
    return profile


def test_a_prediction_is_never_below_its_measured_parts_nor_negative():
    arch = PRESETS["FALSR-C"]
    table = {op.key: 0.5 for op in L.profile_ops()}
    raw = L.raw_ms(arch, table)
    profile = {"format": L.PROFILE_FORMAT, "scale": 2, "features": 32, "ops": table}
    for a, b in [(1.0, -1000.0), (0.2, 0.0), (0.9, -5.0)]:  # lines that dip below the parts, or below zero
        predicted = L.predict_ms(arch, {**profile, "calibration": {"a": a, "b": b}})
        assert predicted >= raw > 0
    above = L.predict_ms(arch, {**profile, "calibration": {"a": 1.5, "b": 2.0}})
    assert above == pytest.approx(1.5 * raw + 2)
    # The fit itself: small networks measured near their parts, big ones far above them pull a free line's
    # intercept below zero; the fit keeps b >= 0 (a line through the origin then).
    raws, measured = [1.0, 2.0, 10.0, 20.0], [1.1, 2.2, 30.0, 62.0]
    cal = L.fit_calibration(raws, measured)
    assert cal["b"] >= 0 and all(L.calibrated_ms(r, cal) >= r for r in raws)
    through_origin = sum(x * y for x, y in zip(raws, measured, strict=True)) / sum(x * x for x in raws)
    assert cal["a"] == pytest.approx(through_origin)


def test_a_prediction_follows_the_line_below_the_parts_as_far_as_a_calibration_network_ran():
    # Whole networks that ran at 0.5 and 0.7 of their operations' sum (each operation timed alone also
    # writes its result out): the line predicts below the sum, down to 0.5 of it and no further.
    nets = [{"text": "x", "raw_ms": 100.0, "measured_ms": 50.0},
            {"text": "y", "raw_ms": 200.0, "measured_ms": 140.0}]
    cal = {**L.fit_calibration([100.0, 200.0], [50.0, 140.0]), "networks": nets}
    assert L.floor_ratio(cal) == pytest.approx(0.5)
    assert L.calibrated_ms(150.0, cal) == pytest.approx(cal["a"] * 150.0 + cal["b"])
    assert L.calibrated_ms(150.0, cal) < 150.0
    assert L.calibrated_ms(150.0, {**cal, "b": -1000.0}) == pytest.approx(75.0)
    assert L.floor_ratio({"a": 1.0, "b": 0.0}) == 1.0  # no networks: the sum itself


def test_falsr_latency_never_shows_a_prediction_below_the_calibrations_floor(tmp_path):
    # XNNPACK, not tf: `--runtime tf` pins TensorFlow's thread pool for the rest of this test process.
    # The calibration network ran at 0.6 of its parts' sum (as whole networks do on Sapphire Rapids).
    _write_profile(tmp_path, "xnnpack", 8, (16, 16), b=-1000.0, ratio=0.6)
    result = CliRunner().invoke(main, ["latency", TINY, "--runtime", "xnnpack", "--threads", "1", "--input",
                                       "16x16", "--runs", "1", "--warmup", "0", "--json", "--data-dir",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    parts = 0.01 * len(L.ops(load_architecture(TINY)))
    assert doc["predicted_ms"] == pytest.approx(0.6 * parts)  # the line gives −999.x: the floor stands


def test_the_final_measurement_decides_front_membership_and_says_so(tmp_path, monkeypatch):
    import falsr_cli.search.runner as runner

    _write_profile(tmp_path, "xnnpack", 32, (16, 16), b=-1000.0)
    measured: list[str] = []

    def fake_measure(arch, runtime, threads, hw, runs=20, warmup=3):
        # The first network measured is slow (over the budget), every later one fast.
        measured.append(arch.hash())
        return {"median_ms": 66.0 if len(measured) == 1 else 10.0}

    monkeypatch.setattr(runner, "random_luma_model", lambda arch: arch)
    monkeypatch.setattr(runner, "measure_network", fake_measure)
    out = tmp_path / "s"
    result = CliRunner().invoke(main, [
        "search", "--evaluator", "proxy", "--n", "2", "--pop", "6", "--generations", "2", "--workers", "0",
        "--latency-max", "40ms", "--latency-runtime", "xnnpack", "--latency-threads", "1",
        "--latency-input", "16x16", "--data-dir", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "pareto.json").read_text())
    removed = doc["removed_over_latency_budget"]
    assert [r["hash"] for r in removed] == [measured[0]]
    assert removed[0]["latency_measured_ms"] == 66.0 and removed[0]["latency_predicted_ms"] >= 0
    assert doc["front"] and all(m["latency_measured_ms"] <= 40 for m in doc["front"])
    assert measured[0] not in {m["hash"] for m in doc["front"]}
    said = f"{measured[0]} removed from the front: measured 66.0 ms, over --latency-max 40 ms"
    assert said in result.stderr
    assert all(r["latency_predicted_ms"] >= 0 for r in map(json.loads, (out / "evaluations.jsonl").open())
               if "latency_predicted_ms" in r)
