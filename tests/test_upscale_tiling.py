"""Tiling: every LR pixel in exactly one core, seamless at the receptive field, refused below it."""

from __future__ import annotations

import numpy as np
import pytest
from export_models import shared_tiny_sr

from falsr_cli.errors import FalsrError
from falsr_cli.runtime.tiling import check_tiling, plan_tiles, tiled_luma


@pytest.fixture
def tiny_sr():
    return shared_tiny_sr()


@pytest.mark.parametrize("h,w,tile,pad", [(37, 50, 16, 5), (16, 16, 16, 3), (5, 70, 8, 0), (9, 9, 0, 4)])
def test_tiles_cover_every_pixel_once(h: int, w: int, tile: int, pad: int) -> None:
    count = np.zeros((h, w), int)
    tiles = plan_tiles(h, w, tile, pad)
    for t in tiles:
        count[t.y0 : t.y1, t.x0 : t.x1] += 1
        # The context holds the core and `pad` pixels around it, as far as the image goes.
        assert t.cy0 <= max(t.y0 - pad, 0) and t.cx0 <= max(t.x0 - pad, 0)
        assert t.cy1 >= min(t.y1 + pad, h) and t.cx1 >= min(t.x1 + pad, w)
        assert 0 <= t.cy0 and t.cy1 <= h and 0 <= t.cx0 and t.cx1 <= w
        assert t.y1 - t.y0 <= (tile or h) and t.x1 - t.x0 <= (tile or w)
    assert (count == 1).all()
    # One context shape for every tile (one set of kernels); cores differ by at most a pixel per side.
    assert len({(t.cy1 - t.cy0, t.cx1 - t.cx0) for t in tiles}) == 1
    assert max(t.y1 - t.y0 for t in tiles) - min(t.y1 - t.y0 for t in tiles) <= max(1, -(-h // (tile or h)))


def test_tiles_split_evenly_and_fit_a_memory_budget() -> None:
    from falsr_cli.runtime.tiling import tile_for_memory

    # 1000 px at tile 400: three cores of 334/334/332, not 400/400/200.
    assert [t.x1 - t.x0 for t in plan_tiles(10, 1000, 400, 20)][:3] == [334, 334, 332]
    core = tile_for_memory(1e9, 1352, 23)  # FALSR-A, 1 GB
    assert core == 384  # (384 + 2·23)² · 1352 · 4 B = 0.9998 GB
    need = lambda c: 4 * 1352 * (c + 46) ** 2  # noqa: E731
    assert need(core) <= 1e9 < need(core + 8)
    assert tile_for_memory(1.0, 1352, 23) == 8  # a budget too small still gives a working tile


def test_tiled_equals_untiled_exactly_from_the_receptive_field(tiny_sr) -> None:
    """Float luma: with pad = receptive field the seams vanish; one pixel less and they show."""
    rf = tiny_sr.receptive_field
    y = np.random.default_rng(3).random((41, 38)).astype(np.float32)
    whole = tiled_luma(tiny_sr.luma, y, 2, 0, 0)
    assert whole.std() > 0.1  # the network does something: the comparison below can fail
    assert np.abs(tiled_luma(tiny_sr.luma, y, 2, 12, rf) - whole).max() < 1e-5
    assert np.abs(tiled_luma(tiny_sr.luma, y, 2, 12, rf - 1) - whole).max() > 1e-3


def test_tiled_photo_within_one_grey_level_of_untiled(tiny_sr) -> None:
    from falsr_cli.runtime.photo_io import Photo
    from falsr_cli.runtime.upscale import upscale_photo

    rgb = np.random.default_rng(4).integers(0, 256, (45, 52, 3), dtype=np.uint8)
    whole = upscale_photo(Photo(rgb), tiny_sr, 2, tile=0).pixels.astype(int)
    tiled = upscale_photo(Photo(rgb), tiny_sr, 2, tile=tiny_sr.receptive_field).pixels.astype(int)
    assert tiled.shape == (90, 104, 3)
    assert np.abs(tiled - whole).max() <= 1


def test_tiling_below_the_receptive_field_is_refused() -> None:
    check_tiling(64, 10, 10)
    check_tiling(0, 0, 10)  # untiled needs no overlap
    check_tiling(8, 2, None)  # unknown receptive field: taken as given
    with pytest.raises(FalsrError, match="--tile 8 is smaller than the model's receptive field"):
        check_tiling(8, 10, 10)
    with pytest.raises(FalsrError, match="--tile-pad 9 is smaller than the model's receptive field"):
        check_tiling(64, 9, 10)
