"""Latency of an architecture from its description alone, from operation costs measured once on a machine.

Mult-adds do not rank networks by speed: grouped and depthwise convolutions, concatenations and narrow
layers cost more time per mult-add than plain 3×3 convolutions, by amounts that depend on the runtime and
the processor. So, as in FBNet and ProxylessNAS, a network's latency is predicted from a lookup table of
measured operations: `ops(arch)` lists every operation the builder makes that takes time at inference
(convolutions with their fused ReLU, depthwise convolutions, adds, concatenations, the depth-to-space and
the image-level bicubic), a *profile* holds each operation's measured time on one machine, runtime, thread
count and input size, and `predict_ms` sums them and applies the profile's calibration, fitted on whole
networks measured with the profile: a weight per family of operations (GROUPS) and an intercept, since a
network runs each family at its own share of its time alone (a·Σ + b in profiles without them).

Convolutions whose input width varies with the wiring (a cell's first conv, the inverted bottleneck's
1×1 supple conv, the up-sampler's conv) and concatenations are measured on a grid of input widths
(`CIN_GRID`) and interpolated linearly between its points; every other operation is measured exactly.
Pure arithmetic, no TensorFlow: the search calls it for every candidate.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import Architecture
from falsr_cli.space.cells import DEFAULT_SPACE, ESA_DILATION, ESA_KERNEL, ESA_REDUCTION, Cell, space_cells

PROFILE_FORMAT = "falsr-latency-profile"
# Input widths at which the variable-width operations are measured (the widest input in the space is
# features + n·64 = 480 for n = 7 and 32 features; wider ones are extrapolated from the last two points).
CIN_GRID: tuple[int, ...] = (16, 32, 64, 128, 192, 320, 480)


class Op(NamedTuple):
    """One timed operation. kind: conv (with its ReLU, or its sigmoid, if any), dwconv (k×k depthwise +
    ReLU, dilated by `dilation`), add, mul (a gate's element-wise product), concat (into `cin` channels),
    shuffle (depth-to-space of `cin` channels) or bicubic (the image-level path); `hr`: it runs at HR size;
    `wired`: its input width is set by the wiring (measured on CIN_GRID)."""

    kind: str
    kernel: int = 0
    cin: int = 0
    cout: int = 0
    groups: int = 1
    relu: bool = False
    hr: bool = False
    wired: bool = False
    dilation: int = 1
    sigmoid: bool = False

    @property
    def key(self) -> str:
        """The operation's name in a profile (the wide space's fields only where set: older keys stay)."""
        return (f"{self.kind}:k{self.kernel}:i{self.cin}:o{self.cout}:g{self.groups}:r{int(self.relu)}"
                f":h{int(self.hr)}:w{int(self.wired)}" + (f":d{self.dilation}" if self.dilation != 1 else "")
                + (":sig" if self.sigmoid else ""))

    def with_cin(self, cin: int) -> Op:
        return self._replace(cin=cin)


def _gate_ops(cell: Cell) -> list[Op]:
    f = cell.filters
    if cell.type == "pa":
        return [Op("conv", 1, f, f, sigmoid=True), Op("mul", 0, f, f)]
    r = f // ESA_REDUCTION
    return [Op("conv", 1, f, r), Op("dwconv", ESA_KERNEL, r, r, r, relu=True, dilation=ESA_DILATION),
            Op("add", 0, r, r), Op("conv", 1, r, f, sigmoid=True), Op("mul", 0, f, f)]


def _cell_ops(cell: Cell, cin: int) -> list[Op]:
    f, k = cell.filters, cell.kernel
    if cell.type == "bsconv":
        out = [Op("conv", 1, cin, f, wired=True), Op("dwconv", k, f, f, f, relu=True)]
        for _ in range(cell.blocks - 1):
            out += [Op("conv", 1, f, f), Op("dwconv", k, f, f, f, relu=True)]
        if cell.skip and cell.blocks > 1:
            out.append(Op("add", 0, f, f))
        return out
    if cell.type == "invbot":
        out = [Op("conv", 1, cin, f, wired=True)]  # supple, no ReLU
        for _ in range(cell.blocks):
            out += [Op("conv", k, f, 2 * f, relu=True), Op("dwconv", 3, 2 * f, 2 * f, 2 * f, relu=True),
                    Op("conv", k, 2 * f, f), Op("add", 0, f, f)]
        if cell.skip and cell.blocks > 1:
            out.append(Op("add", 0, f, f))
        return out
    g = cell.groups
    out = [Op("conv", k, cin, f, g, relu=True, wired=True)]
    out += [Op("conv", k, f, f, g, relu=True) for _ in range(cell.blocks - 1)]
    if cell.gated:
        out += _gate_ops(cell)
    if cell.skip and cell.blocks > 1:
        out.append(Op("add", 0, f, f))
    return out


def ops(arch: Architecture) -> list[Op]:
    """Every operation of the built luma network that takes time at inference, in build order."""
    out = [Op("conv", 3, 1, arch.features, relu=True)]
    for t in range(1, arch.n + 1):
        cin = arch.in_channels(t)
        if len(arch.sources(t)) > 1:
            out.append(Op("concat", 0, cin, wired=True))
        out += _cell_ops(arch.cells[t - 1], cin)
    cin = arch.in_channels(arch.n + 1)
    if len(arch.sources(arch.n + 1)) > 1:
        out.append(Op("concat", 0, cin, wired=True))
    out += [Op("conv", 3, cin, arch.features, relu=True, wired=True),
            Op("add", 0, arch.features, arch.features)]
    s = arch.scale
    shuffled = arch.features
    if s != 2:
        shuffled = arch.hr_channels * s * s
        out.append(Op("conv", 3, arch.features, shuffled))
    out += [Op("shuffle", 0, shuffled, shuffled // (s * s)), Op("conv", 3, arch.hr_channels, 1, hr=True)]
    if arch.residual:
        out += [Op("bicubic", 0, 1, 1), Op("add", 0, 1, 1, hr=True)]
    return out


def profile_ops(scale: int = 2, features: int = 32, space: str = DEFAULT_SPACE) -> list[Op]:
    """The operations a profile measures so that every architecture of the space (at this scale and
    feature count, with or without the residual) can be predicted: wired ones at every CIN_GRID width."""
    seen: dict[str, Op] = {}

    def add(op: Op) -> None:
        for o in ([op.with_cin(c) for c in CIN_GRID] if op.wired else [op]):
            seen.setdefault(o.key, o)

    for cell in space_cells(space):
        for op in _cell_ops(cell, CIN_GRID[0]):
            add(op)
    # The fixed head and tail (and concatenations, wired), from a small densely wired network.
    small = Cell("conv", 16, 1, 1, False)
    dummy = Architecture(cells=(small, small), connections=(1, 1, 1), scale=scale, features=features,
                         residual=True)
    for op in ops(dummy):
        add(op)
    return list(seen.values())


def _interpolate(table: Mapping[str, float], op: Op) -> float | None:
    """The op's time from the two nearest CIN_GRID widths measured for its shape (None if unmeasured)."""
    points = [(c, table[k]) for c in CIN_GRID if (k := op.with_cin(c).key) in table]
    if len(points) < 2:
        return None
    xs = [c for c, _ in points]
    i = min(max(bisect.bisect_left(xs, op.cin), 1), len(points) - 1)
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (op.cin - x0) / (x1 - x0)


def op_ms(table: Mapping[str, float], op: Op) -> float:
    """One operation's time in a profile's table: exact where measured, else interpolated in width."""
    if op.key in table:
        return float(table[op.key])
    if op.wired:
        value = _interpolate(table, op)
        if value is not None:
            return value
    raise FalsrError(f"latency profile has no measurement for {op.key}; rebuild it (falsr latency profile)")


def raw_ms(arch: Architecture, table: Mapping[str, float]) -> float:
    """The sum of the measured times of the architecture's operations (before calibration)."""
    return sum(raw_parts(arch, table).values())


# Families of operations whose time inside a whole network is a different share of their time alone (on
# Sapphire Rapids 1×1 convolutions and concatenations far less than 3×3 ones): the calibration weighs each.
GROUPS: tuple[str, ...] = ("conv1", "conv3", "gconv", "dwconv", "concat", "other")


def op_group(op: Op) -> str:
    if op.kind == "conv":
        return "gconv" if op.groups > 1 else "conv1" if op.kernel == 1 else "conv3"
    return op.kind if op.kind in ("dwconv", "concat") else "other"


def raw_parts(arch: Architecture, table: Mapping[str, float]) -> dict[str, float]:
    """`raw_ms` split by operation family (GROUPS)."""
    parts = dict.fromkeys(GROUPS, 0.0)
    for op in ops(arch):
        parts[op_group(op)] += op_ms(table, op)
    return parts


def predict_ms(arch: Architecture, profile: Mapping[str, Any]) -> float:
    """Predicted latency (ms) of the luma network on the profile's machine, runtime, threads and input."""
    if profile.get("format") != PROFILE_FORMAT:
        raise FalsrError("not a latency profile (format is not falsr-latency-profile)")
    if (arch.scale, arch.features) != (profile["scale"], profile["features"]):
        raise FalsrError(f"the latency profile is for x{profile['scale']} with {profile['features']} "
                         f"features, "
                         f"not x{arch.scale} with {arch.features}")
    return calibrated_ms(raw_parts(arch, profile["ops"]), profile.get("calibration"))


def calibrated_ms(raw: float | Mapping[str, float], calibration: Mapping[str, Any] | None) -> float:
    """The calibration applied to an architecture's summed operation times (`raw_ms`, or `raw_parts` by
    family): Σ weight·part + b where the profile has weights per family, else a·raw + b — never below
    `floor_ratio(calibration)`·raw: a fit on a few networks can dip below what any network was seen to run
    at, even below zero, for a small one, and a budget would then be met on paper only."""
    cal = calibration or {"a": 1.0, "b": 0.0}
    total = sum(raw.values()) if isinstance(raw, Mapping) else raw
    weights = cal.get("groups")
    if isinstance(raw, Mapping) and weights:
        line = sum(float(weights.get(g, cal["a"])) * ms for g, ms in raw.items()) + float(cal["b_groups"])
    else:
        line = float(cal["a"]) * total + float(cal["b"])
    return max(line, floor_ratio(cal) * total)


def floor_ratio(calibration: Mapping[str, Any]) -> float:
    """The smallest measured / summed time of the calibration's networks (1 without any). Not 1 always: a
    whole network can run well below the sum of its operations timed one by one — each timed alone also
    writes its whole result out and pays its own dispatch — by 0.4–0.9 on Intel Sapphire Rapids, where a
    floor at the sum made every prediction the bare sum, 43–73 % too slow (benchmarks/latency_model.py)."""
    ratios = [float(n["measured_ms"]) / float(n["raw_ms"]) for n in calibration.get("networks") or []
              if float(n.get("raw_ms", 0)) > 0]
    return min(ratios) if ratios else 1.0


# Networks per fitted weight below which the calibration keeps one factor: 16 networks fit the 6 families
# and the intercept to 4–7 % (benchmarks/latency_model.py on Sapphire Rapids; one factor: 8–18 %).
MIN_NETWORKS_PER_WEIGHT = 2


def fit_groups(parts: Sequence[Mapping[str, float]], measured: Sequence[float]) -> dict[str, Any] | None:
    """Non-negative least squares of measured ≈ Σ w_g·part_g + b over the calibration networks, exact: the
    best of the unconstrained fits on every subset of the columns whose weights are all ≥ 0 (at most 2⁷
    small fits). A family no network has gets no weight (the single factor `a` stands in for it). None
    with too few networks to fix the weights."""
    used = [g for g in GROUPS if any(p.get(g, 0.0) > 0 for p in parts)]
    if len(parts) < MIN_NETWORKS_PER_WEIGHT * (len(used) + 1):
        return None
    x = np.array([[p.get(g, 0.0) for g in used] + [1.0] for p in parts])
    y = np.asarray(measured, dtype=np.float64)
    best, weights = np.inf, np.zeros(x.shape[1])
    for size in range(1, x.shape[1] + 1):
        for cols in itertools.combinations(range(x.shape[1]), size):
            w = np.linalg.lstsq(x[:, cols], y, rcond=None)[0]
            err = float(np.sum((x[:, cols] @ w - y) ** 2))
            if (w >= 0).all() and err < best:
                best, weights = err, np.zeros(x.shape[1])
                weights[list(cols)] = w
    return {"groups": {g: float(w) for g, w in zip(used, weights[:-1], strict=True)},
            "b_groups": float(weights[-1])}


def fit_calibration(raw: Iterable[float], measured: Iterable[float]) -> dict[str, float]:
    """Least-squares a, b ≥ 0 of measured ≈ a·raw + b (a alone when the points cannot fix both, or when
    the free fit's intercept is negative: a line through the origin then)."""
    xs, ys = list(raw), list(measured)
    n = len(xs)
    if n == 0:
        return {"a": 1.0, "b": 0.0}
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if n >= 3 and sxx > 1e-12 * max(mx * mx, 1e-12):
        a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        if my - a * mx >= 0:
            return {"a": a, "b": my - a * mx}
    sxy, sxx0 = sum(x * y for x, y in zip(xs, ys, strict=True)), sum(x * x for x in xs)
    return {"a": sxy / sxx0 if sxx0 else 1.0, "b": 0.0}
