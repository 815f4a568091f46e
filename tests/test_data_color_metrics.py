"""Colour conversions and the scoring protocol against independent reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import rgb2ycbcr, rgb2ypbpr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from falsr_cli.data import color, metrics
from falsr_cli.errors import FalsrError

RNG = np.random.default_rng(0)


def test_rgb_to_ypbpr_matches_skimage():
    rgb = RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(color.rgb_to_ypbpr(rgb), rgb2ypbpr(rgb / 255.0), atol=1e-12)


def test_rgb_to_y601_matches_skimage_and_range():
    rgb = RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(color.rgb_to_y601(rgb), rgb2ycbcr(rgb)[..., 0], atol=1e-10)
    assert color.rgb_to_y601(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16.0)
    assert color.rgb_to_y601(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx(235.0)


def test_ypbpr_to_rgb255_is_the_graph_formula():
    # Y = 0.5, Pb = 0.1, Pr = -0.2: Y' = 127.5, Pb' - 128 = 25.5 - 0.5, Pr' - 128 = -51 - 0.5.
    out = color.ypbpr_to_rgb255(np.array([[[0.5]]]), np.array([[[0.1, -0.2]]]))[0, 0]
    pb, pr = 25.5 - 0.5, -51.0 - 0.5
    expected = [127.5 + 1.402 * pr, 127.5 - 0.34414 * pb - 0.71414 * pr, 127.5 + 1.772 * pb]
    np.testing.assert_allclose(out, expected, atol=1e-9)
    # Clamped to [0,255].
    assert color.ypbpr_to_rgb255(np.array([[[2.0]]]), np.zeros((1, 1, 2))).max() == 255.0


def test_ypbpr_round_trip_within_the_graphs_half_level_offset():
    rgb = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ypbpr = color.rgb_to_ypbpr(rgb)
    back = color.ypbpr_to_rgb255(ypbpr[..., :1], ypbpr[..., 1:])
    # The graphs centre chroma at 128 instead of 127.5: about 1.772 * 0.5 grey levels off at most
    # (plus 1e-4 for the rounding of the published matrix coefficients).
    assert np.abs(back - rgb).max() <= 1.772 * 0.5 + 1e-4


def test_to_uint8_truncates_like_the_published_script():
    assert color.to_uint8(np.array([0.999 / 255, 254.9 / 255, 2.0, -1.0])).tolist() == [0, 254, 255, 0]


def test_chroma_for_upscale_shape_and_constant_image():
    lr = np.full((5, 6, 3), (200, 30, 90), np.uint8)
    c = color.chroma_for_upscale(lr, 2)
    assert c.shape == (10, 12, 2)
    np.testing.assert_allclose(c, np.broadcast_to(color.rgb_to_ypbpr(lr)[:1, :1, 1:], c.shape), atol=1e-12)


def test_psnr_matches_skimage_and_identical_is_inf():
    a = RNG.integers(0, 256, (20, 20)).astype(np.float64)
    b = np.clip(a + RNG.normal(0, 5, a.shape), 0, 255).round()
    assert metrics.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert math.isinf(metrics.psnr(a, a))


def test_ssim_matches_skimage_gaussian_valid_region():
    a = RNG.integers(0, 256, (40, 33)).astype(np.float64)
    b = np.clip(a + RNG.normal(0, 20, a.shape), 0, 255).round()
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert metrics.ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_gaussian_kernel_is_opencv_getgaussiankernel_11_15():
    k = metrics.gaussian_kernel()
    assert k.shape == (11,) and k.sum() == pytest.approx(1.0)
    # Value from cv2.getGaussianKernel(11, 1.5)[5].
    assert k[5] == pytest.approx(0.26601172486, abs=1e-9)


def test_score_crops_border_and_uses_studio_luma():
    hr = RNG.integers(0, 256, (30, 30, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:2] = 0  # damage only the 2-pixel border that the ×2 protocol crops
    p, s = metrics.score(sr, hr, 2)
    assert math.isinf(p) and s == pytest.approx(1.0)
    sr2 = hr.copy()
    sr2[10, 10] = 255 - sr2[10, 10]
    p2, _ = metrics.score(sr2, hr, 2)
    y_sr, y_hr = metrics.prepare_y(sr2, 2), metrics.prepare_y(hr, 2)
    assert p2 == pytest.approx(10 * math.log10(255**2 / np.mean((y_sr - y_hr) ** 2)))


def test_score_rejects_size_mismatch_and_tiny_images():
    with pytest.raises(FalsrError, match="SR image is"):
        metrics.score(np.zeros((20, 20, 3), np.uint8), np.zeros((22, 20, 3), np.uint8), 2)
    with pytest.raises(FalsrError, match="too small"):
        metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)))
