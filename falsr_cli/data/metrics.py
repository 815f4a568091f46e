"""The paper's scoring protocol, in one place for every command.

SR and HR uint8 RGB → BT.601 studio-range Y (float) → crop `border` pixels → clip to [0,255] and round
→ PSNR (peak 255) and SSIM (11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03, valid region only).
"""

from __future__ import annotations

import math

import numpy as np

from falsr_cli.data.color import rgb_to_y601
from falsr_cli.errors import FalsrError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB; inf for identical images."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def gaussian_kernel(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian taps (as OpenCV getGaussianKernel and MATLAB fspecial)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def _filter_valid(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable 2-D filtering by the outer product of `k` with itself, valid region only."""
    n = k.size
    rows = np.lib.stride_tricks.sliding_window_view(img, n, axis=0) @ k
    return np.lib.stride_tricks.sliding_window_view(rows, n, axis=1) @ k


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Mean SSIM of two single-channel images over the valid region of an 11×11 Gaussian window."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise FalsrError(f"SSIM needs images of one size, got {a.shape} and {b.shape}")
    if min(a.shape[:2]) < SSIM_WINDOW:
        raise FalsrError(
            f"image too small for SSIM ({a.shape[0]}x{a.shape[1]} < {SSIM_WINDOW}x{SSIM_WINDOW})"
        )
    c1 = (0.01 * peak) ** 2
    c2 = (0.03 * peak) ** 2
    k = gaussian_kernel()
    mu1, mu2 = _filter_valid(a, k), _filter_valid(b, k)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _filter_valid(a * a, k) - mu1_sq
    s2 = _filter_valid(b * b, k) - mu2_sq
    s12 = _filter_valid(a * b, k) - mu12
    num = (2.0 * mu12 + c1) * (2.0 * s12 + c2)
    den = (mu1_sq + mu2_sq + c1) * (s1 + s2 + c2)
    return float(np.mean(num / den))


def prepare_y(rgb: np.ndarray, border: int) -> np.ndarray:
    """uint8 RGB → cropped, clipped and rounded BT.601 luma, float64: what PSNR/SSIM compare."""
    y = rgb_to_y601(rgb)
    if border > 0:
        y = y[border:-border, border:-border]
    return np.around(np.clip(y, 0.0, 255.0))


def score(sr_rgb: np.ndarray, hr_rgb: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of an SR image against its HR image by the paper's protocol (border = scale)."""
    if sr_rgb.shape != hr_rgb.shape:
        raise FalsrError(
            f"SR image is {sr_rgb.shape[1]}x{sr_rgb.shape[0]} but HR is {hr_rgb.shape[1]}x{hr_rgb.shape[0]}"
        )
    sr_y = prepare_y(sr_rgb, scale)
    hr_y = prepare_y(hr_rgb, scale)
    return psnr(sr_y, hr_y), ssim(sr_y, hr_y)


