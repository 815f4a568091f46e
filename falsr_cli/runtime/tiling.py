"""Tile-by-tile super-resolution: memory bounded by the tile size, not the image size, and no seams.

The LR image is cut into `tile`×`tile` cores. Each core is run with `pad` extra LR pixels of context on
every side (clipped at the image border) and only the core's part of the result is kept. A pixel of a
convolutional network's output depends on the input within its receptive field only, so with `pad` at
least the receptive-field radius every kept pixel sees exactly the input it would see untiled (zero
padding at the real image border included): tiled equals untiled up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from falsr_cli.errors import FalsrError


@dataclass(frozen=True)
class Tile:
    """One tile in LR pixels: the core [y0, y1) × [x0, x1) and its context box (core + pad, clipped)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    def core_in_context(self, scale: int) -> tuple[slice, slice]:
        """Where the core lies inside the context box's HR result (×scale)."""
        return (
            slice((self.y0 - self.cy0) * scale, (self.y1 - self.cy0) * scale),
            slice((self.x0 - self.cx0) * scale, (self.x1 - self.cx0) * scale),
        )

    def core_hr(self, scale: int) -> tuple[slice, slice]:
        """Where the core lies in the whole HR image."""
        return slice(self.y0 * scale, self.y1 * scale), slice(self.x0 * scale, self.x1 * scale)


def _split(n: int, tile: int, pad: int) -> list[tuple[int, int, int, int]]:
    """Cores [a, b) of near-equal size ≤ `tile` covering [0, n), each with a context [c0, c1).

    Every context is core + `pad` on both sides, moved inward at the image border where there is room:
    all tiles then have one context size (one set of kernels, one interpreter), and a core near the border
    sees the real border (zero padding) exactly as untiled.
    """
    parts = -(-n // tile)
    size = -(-n // parts)
    width = min(n, size + 2 * pad)
    out = []
    for a in range(0, n, size):
        b = min(a + size, n)
        c0 = min(max(a - pad, 0), n - width)
        c1 = max(min(b + pad, n), c0 + width)
        out.append((a, b, c0, c1))
    return out


def plan_tiles(height: int, width: int, tile: int, pad: int) -> list[Tile]:
    """Tiles covering an LR image of `height`×`width`, cores at most `tile` a side (0: one tile)."""
    if height < 1 or width < 1:
        raise FalsrError(f"cannot tile an empty image ({width}x{height})")
    if tile < 0 or pad < 0:
        raise FalsrError(f"tile ({tile}) and tile pad ({pad}) must not be negative")
    rows = _split(height, tile or height, pad)
    cols = _split(width, tile or width, pad)
    return [Tile(y0, y1, x0, x1, cy0, cy1, cx0, cx1)
            for y0, y1, cy0, cy1 in rows for x0, x1, cx0, cx1 in cols]


def tile_for_memory(budget_bytes: float, working_floats: int, pad: int, multiple: int = 8) -> int:
    """The largest core size (a multiple of `multiple`) whose tile, context included, needs at most
    `budget_bytes` of network working memory at `working_floats` float32 values per LR pixel
    (cost_model.working_floats); at least `multiple`."""
    side = int((budget_bytes / (4.0 * working_floats)) ** 0.5) - 2 * pad
    return max(multiple, side - side % multiple)


def check_tiling(tile: int, pad: int, receptive_field: int | None) -> None:
    """Refuse a tiling that would leave seams: tile and pad below the receptive-field radius."""
    if tile < 0:
        raise FalsrError(f"--tile must be 0 (no tiling) or a positive size, got {tile}")
    if pad < 0:
        raise FalsrError(f"--tile-pad must not be negative, got {pad}")
    if receptive_field is None or tile == 0:
        return
    if tile < receptive_field:
        raise FalsrError(
            f"--tile {tile} is smaller than the model's receptive field ({receptive_field} LR pixels): "
            f"use --tile {max(receptive_field, 64)} or more, or --tile 0 for no tiling"
        )
    if pad < receptive_field:
        raise FalsrError(
            f"--tile-pad {pad} is smaller than the model's receptive field ({receptive_field} LR pixels), "
            f"tiles would show seams: use --tile-pad {receptive_field} or more"
        )


def run_tiled(
    tiles: list[Tile],
    scale: int,
    process: Callable[[Tile], np.ndarray],
    out: np.ndarray,
    on_tile: Callable[[], None] | None = None,
) -> np.ndarray:
    """Fill the preallocated HR `out` tile by tile; `process(tile)` gives the HR result of its context."""
    for t in tiles:
        hr = process(t)
        expect = ((t.cy1 - t.cy0) * scale, (t.cx1 - t.cx0) * scale)
        if hr.shape[:2] != expect:
            raise FalsrError(
                f"the model returned {hr.shape[1]}x{hr.shape[0]} for a {t.cx1 - t.cx0}x{t.cy1 - t.cy0} tile, "
                f"expected ×{scale} = {expect[1]}x{expect[0]}: is its scale really ×{scale}?"
            )
        out[t.core_hr(scale)] = hr[t.core_in_context(scale)]
        if on_tile is not None:
            on_tile()
    return out


def tiled_luma(
    luma_fn: Callable[[np.ndarray], np.ndarray], y: np.ndarray, scale: int, tile: int, pad: int
) -> np.ndarray:
    """Run `luma_fn` ((1,h,w,1) float32 → (1,sh,sw,1)) over a (H, W) LR luma plane, tile by tile."""
    y = np.asarray(y, np.float32)
    h, w = y.shape
    out = np.empty((h * scale, w * scale), np.float32)

    def process(t: Tile) -> np.ndarray:
        return np.asarray(luma_fn(y[None, t.cy0 : t.cy1, t.cx0 : t.cx1, None]))[0, ..., 0]

    return run_tiled(plan_tiles(h, w, tile, pad), scale, process, out)
