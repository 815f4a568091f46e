"""Reading and writing photos at full fidelity for `falsr upscale`: bit depth, alpha and orientation kept.

Unlike `data.images.read_rgb` (benchmark files → 8-bit RGB), a photo keeps what it has: grayscale stays
grayscale, 16-bit stays 16-bit, alpha is carried alongside, and the EXIF orientation is applied so the
result is upright (the written file then has no orientation tag to re-apply).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from falsr_cli.atomic import atomic_path
from falsr_cli.data.images import (
    IMAGE_WRITE_FORMATS,
    PNG_COMPRESS_LEVEL,
    open_image,
    png_mark_chunk,
    round_16_to_8,
    save_options,
    sixteen_bit_samples,
)
from falsr_cli.errors import FalsrError

_EXIF_ORIENTATION = 0x0112


@dataclass
class Photo:
    """Pixels (H,W) grey or (H,W,3) RGB, uint8 or uint16, plus an optional alpha plane of the same dtype."""

    pixels: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def gray(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def bits(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def peak(self) -> int:
        return 65535 if self.bits == 16 else 255


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, …) array, as PIL's `ImageOps.exif_transpose`."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: np.rot90(x, 2).swapaxes(0, 1),
        8: lambda x: np.rot90(x, 1),
    }
    op = ops.get(orientation)
    return a if op is None else np.ascontiguousarray(op(a))


def _decode(path: Path, img: Image.Image) -> Photo:
    mode = img.mode
    if mode in ("RGB", "RGBA"):
        arr = sixteen_bit_samples(path, img)
        if arr is None:
            arr = np.asarray(img)
        return Photo(arr[..., :3], arr[..., 3] if arr.shape[-1] == 4 else None)
    if mode.startswith("I;16") or mode == "I":
        raw = np.asarray(img).astype(np.int64)
        if mode == "I" and raw.size and 0 <= raw.min() and raw.max() <= 255:
            return Photo(raw.astype(np.uint8))
        return Photo(np.clip(raw, 0, 65535).astype(np.uint16))
    if mode in ("L", "1"):
        return Photo(np.asarray(img.convert("L")))
    if mode in ("LA", "La", "PA") or (mode == "P" and "transparency" in img.info):
        if mode in ("LA", "La"):
            la = np.asarray(img.convert("LA"))
            return Photo(la[..., 0], la[..., 1])
        rgba = np.asarray(img.convert("RGBA"))
        return Photo(rgba[..., :3], rgba[..., 3])
    if mode == "RGBa":
        rgba = np.asarray(img.convert("RGBA"))
        return Photo(rgba[..., :3], rgba[..., 3])
    return Photo(np.asarray(img.convert("RGB")))  # P, CMYK, YCbCr, F, …


def read_photo(path: str | os.PathLike) -> Photo:
    """Read an image upright (EXIF orientation applied) at its own depth; unreadable → FalsrError."""
    path = Path(path)
    with open_image(path) as img:
        # Decoding (inside _decode, after it looked at the raw mode) surfaces truncation and bad data;
        # EXIF only after it: reading EXIF loads a PNG and forgets its raw mode.
        photo = _decode(path, img)
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation not in (None, 1):
        photo.pixels = orient(photo.pixels, orientation)
        if photo.alpha is not None:
            photo.alpha = orient(photo.alpha, orientation)
    return photo


def to_8bit(a: np.ndarray) -> np.ndarray:
    """uint16 → uint8 by round(v/257) (0 and 65535 map exactly onto 0 and 255); uint8 unchanged."""
    return a if a.dtype == np.uint8 else round_16_to_8(a)


def _write_png16(f, pixels: np.ndarray) -> None:
    """A 16-bit PNG (grey, grey+alpha, RGB or RGBA), written in row bands to bound memory."""
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(kind: bytes, data: bytes) -> None:
        f.write(
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    f.write(b"\x89PNG\r\n\x1a\n")
    chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
    chunk(*png_mark_chunk())
    comp = zlib.compressobj(PNG_COMPRESS_LEVEL)
    band = max(1, (1 << 22) // max(1, w * channels * 2))
    for y0 in range(0, h, band):
        rows = pixels[y0 : y0 + band].reshape(-1, w * channels).astype(">u2")
        # Each row: filter type 0 (none), then the big-endian samples.
        raw = np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows.view(np.uint8)], axis=1)
        data = comp.compress(raw.tobytes())
        if data:
            chunk(b"IDAT", data)
    chunk(b"IDAT", comp.flush())
    chunk(b"IEND", b"")


def write_photo(path: str | os.PathLike, photo: Photo, quality: int = 95) -> list[str]:
    """Write atomically in the format of the extension; returns notes on what the format could not keep."""
    path = Path(path)
    fmt = IMAGE_WRITE_FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        raise FalsrError(f"cannot write {path}: use one of .{', .'.join(sorted(IMAGE_WRITE_FORMATS))}")
    notes: list[str] = []
    pixels, alpha = photo.pixels, photo.alpha
    if fmt == "JPEG" and alpha is not None:
        notes.append("alpha dropped (JPEG has none)")
        alpha = None
    if photo.bits == 16 and fmt != "PNG":
        notes.append(f"16-bit → 8-bit ({fmt} has 8 bits)")
        pixels, alpha = to_8bit(pixels), None if alpha is None else to_8bit(alpha)
    if pixels.dtype == np.uint16 and pixels.ndim == 2 and alpha is not None:
        # Pillow (and so most Python tools) cannot read 16-bit grey+alpha PNGs: write RGBA instead.
        notes.append("16-bit grey+alpha written as RGBA")
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    planes = pixels if alpha is None else np.dstack([pixels, alpha])
    with atomic_path(path, suffix=path.suffix) as tmp:
        if planes.dtype == np.uint16 and planes.ndim == 3:
            with open(tmp, "wb") as f:
                _write_png16(f, planes)
        else:
            Image.fromarray(np.ascontiguousarray(planes)).save(tmp, format=fmt, **save_options(fmt, quality))
    return notes
