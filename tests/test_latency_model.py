"""The latency model (pure): the operations of a network, a profile's coverage, interpolation, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.cost import latency_model as L
from falsr_cli.errors import FalsrError
from falsr_cli.search.config import parse_ms
from falsr_cli.space.architecture import PRESETS, Architecture, load_architecture


def _linear_table(ops: list[L.Op]) -> dict[str, float]:
    """A made-up profile in which every operation costs an affine function of its input width."""
    return {op.key: 0.01 * op.cin * (op.kernel or 1) + 0.1 * op.groups + (0.5 if op.hr else 0.2)
            for op in ops}


def _profile(table: dict[str, float], a: float = 1.0, b: float = 0.0) -> dict:
    return {"format": L.PROFILE_FORMAT, "scale": 2, "features": 32, "ops": table,
            "calibration": {"a": a, "b": b}}


def test_ops_follow_the_builder_layer_by_layer() -> None:
    # FALSR-B: the counts of each kind, checked against the architecture by hand from cost_model's convs.
    from falsr_cli.cost.cost_model import conv_specs

    arch = PRESETS["FALSR-B"]
    ops = L.ops(arch)
    convs = [o for o in ops if o.kind in ("conv", "dwconv")]
    assert len(convs) == len(conv_specs(arch))  # every conv the builder makes, no more
    assert [(o.kernel, o.cin, o.cout) for o in convs] == [(c.kernel, c.cin, c.cout) for c in conv_specs(arch)]
    concats = [o for o in ops if o.kind == "concat"]
    assert len(concats) == sum(len(arch.sources(t)) > 1 for t in range(1, arch.n + 2))
    assert [o.kind for o in L.ops(arch.with_residual(True))][-2:] == ["bicubic", "add"]


def test_profile_covers_every_architecture_of_the_space() -> None:
    table = {op.key: 1.0 for op in L.profile_ops()}
    rng = np.random.default_rng(0)
    archs = [Architecture.random(rng, n=7, residual=bool(i % 2)) for i in range(300)]
    for arch in [*archs, *PRESETS.values()]:
        assert L.raw_ms(arch, table) > 0  # raises if an operation is neither measured nor interpolable


def test_interpolation_in_width_is_exact_for_affine_costs() -> None:
    table = _linear_table(L.profile_ops())
    arch = load_architecture("FALSR-A")
    exact = sum(_linear_table([op])[op.key] for op in L.ops(arch))
    assert L.predict_ms(arch, _profile(table)) == pytest.approx(exact, rel=1e-12)
    assert L.predict_ms(arch, _profile(table, a=2.0, b=3.0)) == pytest.approx(2 * exact + 3, rel=1e-12)


def test_missing_measurement_and_wrong_profile_are_errors() -> None:
    arch = PRESETS["FALSR-C"]
    with pytest.raises(FalsrError, match="no measurement"):
        L.predict_ms(arch, _profile({}))
    with pytest.raises(FalsrError, match="not a latency profile"):
        L.predict_ms(arch, {"ops": {}})
    with pytest.raises(FalsrError, match="x2 with 32 features"):
        L.predict_ms(Architecture.random(np.random.default_rng(1), n=3, scale=3), _profile({}))


def test_calibration_fit_recovers_a_line() -> None:
    raw = [1.0, 2.0, 5.0, 9.0]
    cal = L.fit_calibration(raw, [1.5 * r + 0.25 for r in raw])
    assert cal["a"] == pytest.approx(1.5) and cal["b"] == pytest.approx(0.25)
    assert L.fit_calibration([2.0], [4.0]) == {"a": 2.0, "b": 0.0}  # one point: a scale only


def test_group_fit_recovers_weights_per_family_and_keeps_them_non_negative() -> None:
    rng = np.random.default_rng(3)
    true = {"conv1": 0.4, "conv3": 0.85, "gconv": 0.7, "dwconv": 0.5, "concat": 0.3, "other": 0.0}
    parts = [{g: float(rng.uniform(1, 50)) for g in L.GROUPS} for _ in range(16)]
    measured = [sum(true[g] * p[g] for g in L.GROUPS) + 2.0 for p in parts]
    fit = L.fit_groups(parts, measured)
    assert fit is not None and fit["b_groups"] == pytest.approx(2.0, abs=1e-6)
    assert fit["groups"] == pytest.approx(true, abs=1e-6)
    # Noise that pulls a free fit's weight for "other" below zero: it is held at zero instead.
    noisy = [m - 0.05 * p["other"] for m, p in zip(measured, parts, strict=True)]
    assert min(L.fit_groups(parts, noisy)["groups"].values()) >= 0
    free = np.linalg.lstsq(np.array([[p[g] for g in L.GROUPS] + [1.0] for p in parts]), noisy, rcond=None)[0]
    assert free[L.GROUPS.index("other")] < 0
    # Too few networks to fix seven numbers: no fit (one factor stands). A family no network has: no weight.
    assert L.fit_groups(parts[:10], measured[:10]) is None
    assert "gconv" not in L.fit_groups([{**p, "gconv": 0.0} for p in parts], measured)["groups"]


def test_prediction_weighs_each_family_when_the_profile_has_weights() -> None:
    arch = PRESETS["FALSR-B"]
    table = _linear_table(L.profile_ops())
    parts = L.raw_parts(arch, table)
    assert sum(parts.values()) == pytest.approx(L.raw_ms(arch, table))
    weights = {g: 0.5 + 0.1 * i for i, g in enumerate(L.GROUPS)}
    profile = _profile(table, a=9.0)
    # (a network of the calibration ran at 0.3 of its operations' sum: the floor is below these weights)
    profile["calibration"].update(groups=weights, b_groups=1.0,
                                  networks=[{"text": "x", "raw_ms": 10.0, "measured_ms": 3.0}])
    assert L.predict_ms(arch, profile) == pytest.approx(sum(weights[g] * parts[g] for g in L.GROUPS) + 1.0)
    # A profile calibrated with one factor (an older one) predicts as before.
    del profile["calibration"]["groups"]
    profile["calibration"].update(a=0.7, b=3.0)
    assert L.predict_ms(arch, profile) == pytest.approx(0.7 * sum(parts.values()) + 3.0)


@pytest.mark.parametrize(("text", "ms"), [("40ms", 40.0), ("0.04s", 40.0), ("1500us", 1.5), (12, 12.0),
                                          (" 7.5 ms ", 7.5)])
def test_parse_ms(text: object, ms: float) -> None:
    assert parse_ms(text, "latency_max") == pytest.approx(ms)


@pytest.mark.parametrize("bad", ["fast", "-3ms", "0", "40 min", True])
def test_parse_ms_rejects(bad: object) -> None:
    with pytest.raises(FalsrError, match="latency_max"):
        parse_ms(bad, "latency_max")
