"""MATLAB-compatible bicubic resize: hand-derived values and the shipped benchmark LR images."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.data.images import read_rgb
from falsr_cli.data.imresize import contributions, cubic, imresize, modcrop
from falsr_cli.errors import FalsrError


def test_cubic_kernel_values():
    # Keys a=-0.5: 1.5|x|^3 - 2.5|x|^2 + 1 on [0,1]; -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 on (1,2].
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5])
    expected = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-12)


def test_upscale_x2_matches_hand_computed_values():
    # u = x/2 + 1/4 → weights (1.09375, -0.09375) at the mirrored edge, (0.796875, 0.203125) inside.
    row = np.array([[50.0, 150.0]])
    out = imresize(row, 2)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out[0], [40.625, 70.3125, 129.6875, 159.375], atol=1e-9)
    np.testing.assert_array_equal(out[0], out[1])
    u8 = imresize(row.astype(np.uint8), 2)
    assert u8.dtype == np.uint8
    np.testing.assert_array_equal(u8[0], [41, 70, 130, 159])


def test_antialiased_downscale_matches_hand_computed_values():
    # Scale 1/2: kernel 0.5·cubic(x/2) over 8 taps, symmetric padding; a step edge at index 3.
    row = np.array([[0, 0, 0, 100, 100, 100, 100, 100]], dtype=np.float64)
    out = imresize(row, 0.5)
    assert out.shape == (1, 4)
    np.testing.assert_allclose(out[0], [-4.6875, 50.0, 104.6875, 100.0], atol=1e-9)
    np.testing.assert_array_equal(imresize(row.astype(np.uint8), 0.5)[0], [0, 50, 105, 100])


def test_weights_are_normalised_and_indices_mirrored():
    weights, idx = contributions(5, 3, 0.5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert idx.min() >= 0 and idx.max() <= 4


def test_constant_image_stays_constant_and_sizes_are_ceiled():
    img = np.full((7, 9, 3), 137, dtype=np.uint8)
    for scale in (0.5, 2, 1 / 3, 3):
        out = imresize(img, scale)
        assert out.shape == (int(np.ceil(7 * scale - 1e-9)), int(np.ceil(9 * scale - 1e-9)), 3)
        assert (out == 137).all()
    assert imresize(np.zeros((300, 301)), 1 / 3).shape == (100, 101)


def test_uint8_rounds_after_each_pass_float_does_not():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    u8 = imresize(img, 0.5)
    fl = imresize(img.astype(np.float64), 0.5)
    assert u8.dtype == np.uint8 and fl.dtype == np.float64
    assert np.abs(u8.astype(float) - np.clip(fl, 0, 255)).max() <= 1.0  # rounding twice costs ≤ 1
    assert imresize(img.astype(np.float32), 2).dtype == np.float32


def test_bad_input():
    with pytest.raises(FalsrError):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)
    with pytest.raises(FalsrError):
        imresize(np.zeros((4, 4, 3, 1), dtype=np.uint8), 2)
    with pytest.raises(FalsrError):
        imresize(np.zeros((4, 4), dtype=np.uint8), 0)


def test_modcrop():
    assert modcrop(np.zeros((7, 9, 3)), 2).shape == (6, 8, 3)
    assert modcrop(np.zeros((9, 9)), 3).shape == (9, 9)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_reproduces_shipped_lr_images(benchmark_mirror, name):
    """Acceptance: HR ×0.5 = shipped LR for ≥ 99% of values inside a 3-pixel border, none off by > 2."""
    equal = total = 0
    worst = 0
    hr_files = sorted((benchmark_mirror / name).glob("*_HR.png"))
    assert hr_files
    for hr_path in hr_files:
        hr, _ = read_rgb(hr_path)
        lr, _ = read_rgb(hr_path.with_name(hr_path.name.replace("_HR", "_LR")))
        ours = imresize(hr, 0.5)
        assert ours.shape == lr.shape
        diff = np.abs(ours.astype(int) - lr.astype(int))[3:-3, 3:-3]
        equal += int((diff == 0).sum())
        total += diff.size
        worst = max(worst, int(diff.max()))
    assert equal / total >= 0.99, f"{name}: only {equal / total:.4%} equal"
    assert worst <= 2, f"{name}: a value differs by {worst}"
