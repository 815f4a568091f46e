"""Colour conversions exactly as the FALSR models and the scoring protocol use them.

The matrices are scikit-image's (`rgb2ypbpr`, `rgb2ycbcr`), so numbers match the published evaluation.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from falsr_cli.errors import FalsrError

# ITU-R BT.601 full-range YPbPr, as skimage.color.rgb2ypbpr.
_YPBPR_FROM_RGB = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64
)
# BT.601 studio-range Y (16..235) from RGB in [0,1], as skimage.color.rgb2ycbcr's first row.
_Y601_FROM_RGB = np.array([65.481, 128.553, 24.966], dtype=np.float64)


def to_float01(rgb: np.ndarray) -> np.ndarray:
    """uint8 → float64 in [0,1]; float input is taken as already in [0,1]."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float64) / 255.0
    return rgb.astype(np.float64)


def rgb_to_ypbpr(rgb: np.ndarray) -> np.ndarray:
    """RGB (uint8, or float in [0,1]) → YPbPr float64: Y in [0,1], Pb/Pr in [-0.5,0.5]."""
    return to_float01(rgb) @ _YPBPR_FROM_RGB.T


def rgb_to_y601(rgb: np.ndarray) -> np.ndarray:
    """RGB (uint8, or float in [0,1]) → BT.601 studio-range luma in [16,235], float64, not rounded."""
    return to_float01(rgb) @ _Y601_FROM_RGB + 16.0


def ypbpr_to_rgb255(y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
    """The published graphs' fixed colour stage: Y (…,1) and PbPr (…,2) in model units → RGB in [0,255].

    With Y' = 255·Y and C' = 255·(PbPr + 0.5): R = Y' + 1.402(Pr'−128), G = Y' − 0.34414(Pb'−128)
    − 0.71414(Pr'−128), B = Y' + 1.772(Pb'−128), clamped to [0,255]. (128, not 127.5: as the graphs.)
    """
    y255 = 255.0 * np.asarray(y, dtype=np.float64)[..., 0]
    c = 255.0 * (np.asarray(pbpr, dtype=np.float64) + 0.5) - 128.0
    pb, pr = c[..., 0], c[..., 1]
    rgb = np.stack([y255 + 1.402 * pr, y255 - 0.34414 * pb - 0.71414 * pr, y255 + 1.772 * pb], axis=-1)
    return np.clip(rgb, 0.0, 255.0)


def to_uint8(rgb01: np.ndarray) -> np.ndarray:
    """Model RGB in [0,1] → uint8 as the published script: ×255, clip, truncate.

    Non-finite values (a diverged network) are an error: cast to uint8 they would score as a number.
    """
    x = np.asarray(rgb01, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise FalsrError(f"the model's output holds {bad} non-finite values (NaN or inf); it cannot be "
                         "scored or saved (a diverged or broken network?)")
    return np.clip(x * 255.0, 0, 255).astype(np.uint8)


def pil_bicubic_resize(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """PIL bicubic resize of a uint8 image (the old `scipy.misc.imresize(..., 'bicubic')`)."""
    mode = "L" if rgb.ndim == 2 else None
    return np.asarray(Image.fromarray(rgb, mode=mode).resize((width, height), resample=Image.BICUBIC))


def chroma_for_upscale(lr_rgb: np.ndarray, scale: int) -> np.ndarray:
    """Pb/Pr of the LR image upscaled ×scale with PIL bicubic: (sH, sW, 2) float64."""
    h, w = lr_rgb.shape[:2]
    return rgb_to_ypbpr(pil_bicubic_resize(lr_rgb, h * scale, w * scale))[..., 1:]
