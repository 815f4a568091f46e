"""What `falsr arch show` and `falsr flops` report about an architecture, as plain data (no TensorFlow)."""

from __future__ import annotations

import re
from typing import Any

from falsr_cli.cost.cost_model import conv_specs, mult_adds, params, receptive_field
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import Architecture

DEFAULT_HW: tuple[int, int] = (480, 480)


_HW_RE = re.compile(r"\s*(\d+)\s*(?:(?:[x×X,]|\s)\s*(\d+)\s*)?")


def parse_hw(text: str, flag: str = "--input", most: int | None = None) -> tuple[int, int]:
    """`480x360` (also `480×360`, `480,360`; one number means square) → (480, 360) as (H, W); `flag`: the
    option it came from (errors name it); `most`: the largest side allowed (a network run on it)."""
    m = _HW_RE.fullmatch(str(text))
    hw = (int(m[1]), int(m[2] or m[1])) if m else (0, 0)
    if min(hw) < 1 or (most is not None and max(hw) > most):
        bound = f" (at most {most} a side)" if most is not None else ""
        raise FalsrError(f"{flag} {text!r} is not HxW in pixels{bound}, e.g. 240x240")
    return hw


def hw_text(hw: tuple[int, int]) -> str:
    return f"{hw[0]}x{hw[1]}"


def node_name(arch: Architecture, node: int) -> str:
    return "FE" if node == 0 else "upsampler" if node == arch.n + 1 else f"CB{node}"


def summarize(
    arch: Architecture, input_hw: tuple[int, int] | None = None, name: str | None = None
) -> dict[str, Any]:
    """Cells with their sources and costs, totals at 480×480 and at `input_hw` (LR), receptive field."""
    specs = conv_specs(arch)
    lr = DEFAULT_HW[0] * DEFAULT_HW[1]

    def cost(prefixes: tuple[str, ...]) -> tuple[int, int]:
        mine = [c for c in specs if c.name.startswith(prefixes)]
        macs = sum(c.weights * (lr * arch.scale**2 if c.hr else lr) for c in mine)
        return sum(c.params for c in mine), macs

    rows = []
    for t in range(1, arch.n + 2):
        is_up = t == arch.n + 1
        p, m = cost(("up_",) if is_up else (f"cell{t}_",))
        rows.append(
            {
                "node": node_name(arch, t),
                "cell": f"upsampler x{arch.scale}" if is_up else arch.cells[t - 1].text,
                "sources": [node_name(arch, s) for s in arch.sources(t)],
                "in_channels": arch.in_channels(t),
                "params": p,
                "mult_adds_480x480": m,
            }
        )
    fe_p, fe_m = cost(("fe",))
    fe_row = {"node": "FE", "cell": f"conv 3x3 1->{arch.features}", "sources": ["input"], "in_channels": 1}
    rows.insert(0, fe_row | {"params": fe_p, "mult_adds_480x480": fe_m})
    macs = {hw_text(DEFAULT_HW): mult_adds(arch, DEFAULT_HW)}
    if input_hw is not None:
        macs[hw_text(input_hw)] = mult_adds(arch, input_hw)
    out: dict[str, Any] = {"name": name} if name else {}
    out |= {
        "text": arch.to_text(),
        "hash": arch.hash(),
        "scale": arch.scale,
        "features": arch.features,
        "n": arch.n,
        "nodes": rows,
        "params": params(arch),
        "mult_adds": macs,
        "receptive_field_lr": receptive_field(arch),
        "architecture": arch.to_dict(),
    }
    return out


def human(n: float) -> str:
    """1234567 → 1.23M, 2.35e11 → 235.0G."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.{1 if unit == 'G' else 2}f}{unit}"
    return str(int(n))
