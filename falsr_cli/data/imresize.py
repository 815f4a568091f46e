"""MATLAB-compatible bicubic resize: `imresize(img, scale)` as MATLAB's `imresize(img, scale, 'bicubic')`.

Every ×2 benchmark's LR image was made by MATLAB, so training pairs and HR-only folders must be degraded
the same way for scores to be comparable. What MATLAB does, and this module does:

- Keys cubic kernel with a = −0.5 on [−2, 2];
- on downscaling (scale < 1) the kernel is antialiased: stretched by 1/scale and its height scaled by
  `scale`, so it is a low-pass filter of width 4/scale input pixels;
- output pixel x (1-based) samples input position u = x/scale + 0.5·(1 − 1/scale) (pixel centres align);
- taps falling outside the image are mirrored symmetrically (…, 2, 1, 1, 2, …, n, n, n−1, …);
- each output's weights are normalised to sum to 1;
- output size is ceil(scale · input size);
- the two dimensions are resized one after the other, the one with the smaller scale first (height first
  when equal), and uint8 input is rounded (half away from zero) and clipped to uint8 after each pass.

Each pass is a gather of `taps` neighbouring rows (or columns) times a weight vector, all vectorised.
"""

from __future__ import annotations

import math

import numpy as np

from falsr_cli.errors import FalsrError

KERNEL_WIDTH = 4.0  # support of the cubic kernel, in input pixels at scale 1


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = −0.5 (MATLAB's `cubic`)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def contributions(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out, taps) and 0-based input indices (out, taps) for resizing one dimension.

    Indices outside [0, in_length) are already mirrored; tap columns whose weights are all zero are dropped.
    """
    if scale < 1 and antialiasing:
        width = KERNEL_WIDTH / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)
    else:
        width = KERNEL_WIDTH
        kernel = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based, may be out of range
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    # Symmetric padding: the sequence 1..n, n..1 repeated.
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


def _resize_axis(img: np.ndarray, axis: int, out_length: int, scale: float, antialiasing: bool) -> np.ndarray:
    """One pass along `axis` in float64 (the caller rounds for integer images)."""
    weights, idx = contributions(img.shape[axis], out_length, scale, antialiasing)
    shape = [1] * img.ndim
    shape[axis] = out_length
    out = np.zeros(img.shape[:axis] + (out_length,) + img.shape[axis + 1 :], dtype=np.float64)
    for t in range(weights.shape[1]):
        out += weights[:, t].reshape(shape) * np.take(img, idx[:, t], axis=axis)
    return out


def output_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """MATLAB's output size: ceil(scale · size) per dimension."""
    # The tiny tolerance keeps e.g. 300 · (1/3) = 100.00000000000001 at 100, as a user expects.
    return tuple(int(math.ceil(s * scale - 1e-9)) for s in shape)  # type: ignore[return-value]


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    antialiasing: bool = True,
) -> np.ndarray:
    """Resize (H, W) or (H, W, C) `img` by `scale` (or to `output_shape` (H, W)) like MATLAB bicubic.

    uint8 in → uint8 out (rounded after each pass); float in → float of the same dtype, unclipped.
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise FalsrError(f"imresize expects an (H, W) or (H, W, C) image, got shape {arr.shape}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise FalsrError(f"imresize expects uint8 or float pixels, got {arr.dtype}")
    in_hw = arr.shape[:2]
    if min(in_hw) < 1:
        raise FalsrError(f"imresize got an empty image of shape {arr.shape}")
    if output_shape is not None:
        out_hw = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_hw[0] / in_hw[0], out_hw[1] / in_hw[1])
    elif scale is not None:
        if not scale > 0:
            raise FalsrError(f"imresize scale must be positive, got {scale}")
        out_hw = output_size(in_hw, scale)
        scales = (float(scale), float(scale))
    else:
        raise FalsrError("imresize needs a scale or an output_shape")
    if min(out_hw) < 1:
        raise FalsrError(f"imresize output would be empty ({out_hw[0]}x{out_hw[1]})")

    is_uint8 = arr.dtype == np.uint8
    out = arr.astype(np.float64)
    # Smaller scale first (stable: height first when equal), as MATLAB orders the passes.
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        out = _resize_axis(out, axis, out_hw[axis], scales[axis], antialiasing)
        if is_uint8:
            out = np.clip(np.floor(out + 0.5), 0, 255)
    if is_uint8:
        return out.astype(np.uint8)
    return out.astype(arr.dtype)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right edge so that height and width are multiples of `scale`."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def matlab_bicubic(a: np.ndarray, scale: int) -> np.ndarray:
    """The `bicubic` model: MATLAB-compatible bicubic ×scale of 8- or 16-bit pixels (16-bit rounded)."""
    if a.dtype == np.uint8:
        return imresize(a, scale)
    return np.clip(np.floor(imresize(a.astype(np.float64), scale) + 0.5), 0, 65535).astype(np.uint16)
