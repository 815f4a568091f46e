"""Reading and writing images as uint8 RGB arrays, with one clear error for anything unreadable.

`read_rgb` returns the stored pixels exactly (no EXIF rotation unless asked: benchmark files are scored on
their raw pixel grid) and converts what is not 8-bit RGB, returning a short note that says what it did so
that a results table can flag the image:

- grayscale (L, 1, LA) → the grey value copied to R, G and B;
- RGBA / LA / palette with transparency → the alpha channel is dropped, colour values kept as stored
  (as OpenCV's IMREAD_COLOR, MATLAB's imread and BasicSR do; no compositing onto a background);
- 16-bit → 8-bit by round(v / 257), which maps 0..65535 onto 0..255 exactly at both ends;
- palette (P) without transparency → RGB, lossless, no note; CMYK and others → PIL's RGB conversion.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from falsr_cli.atomic import atomic_path
from falsr_cli.errors import FalsrError

# Extension → PIL format name for write_image.
IMAGE_WRITE_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}
# Extensions treated as images when scanning a folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

_EXIF_ORIENTATION = 0x0112

NOTE_GRAY = "grayscale → RGB"
NOTE_ALPHA = "alpha dropped"
NOTE_16BIT = "16-bit → 8-bit"


def round_16_to_8(values: np.ndarray) -> np.ndarray:
    """uint16 (or wider int) 0..65535 → uint8 by round(v/257), half away from zero (as MATLAB im2uint8)."""
    v = values.astype(np.float64) / 257.0
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def sixteen_bit_samples(path: Path, img: Image.Image) -> np.ndarray | None:
    """Exact uint16 samples of a 16-bit-per-channel RGB(A) PNG, or None if `img` is not one.

    Pillow keeps only the high byte of 48/64-bit PNGs (mode RGB/RGBA with raw mode `RGB;16B`). Decoding
    the same file a second time with the little-endian raw mode picks the other byte of each big-endian
    sample, i.e. the low byte, so the two decodes together give the exact 16-bit values.
    """
    tiles = getattr(img, "tile", None) or []
    rawmodes = [t.args if isinstance(t.args, str) else (t.args[0] if t.args else "") for t in tiles]
    if not rawmodes or not all(isinstance(r, str) and r.endswith(";16B") for r in rawmodes):
        return None
    with Image.open(path) as hi_img, Image.open(path) as lo_img:
        lo_img.tile = [
            t._replace(args=t.args.replace(";16B", ";16L") if isinstance(t.args, str) else t.args)
            for t in lo_img.tile
        ]
        hi = np.asarray(hi_img).astype(np.uint16)
        lo = np.asarray(lo_img).astype(np.uint16)
    return (hi << 8) | lo


def _sixteen_bit_colour(path: Path, img: Image.Image) -> np.ndarray | None:
    """8-bit pixels of a 16-bit RGB(A) PNG, rounded from its exact samples, or None if not one."""
    wide = sixteen_bit_samples(path, img)
    return None if wide is None else round_16_to_8(wide.astype(np.uint32))


def _to_rgb(path: Path, img: Image.Image) -> tuple[np.ndarray, str | None]:
    """Convert an opened (not yet loaded) PIL image to uint8 RGB plus a note of what was converted."""
    notes: list[str] = []
    mode = img.mode
    if mode in ("RGB", "RGBA"):
        wide = _sixteen_bit_colour(path, img)
        if wide is not None:
            notes.append(NOTE_16BIT)
            arr = wide
        else:
            arr = np.asarray(img)
        if arr.shape[-1] == 4:
            notes.append(NOTE_ALPHA)
            arr = arr[..., :3]
    elif mode.startswith("I;16") or mode == "I":
        raw = np.asarray(img).astype(np.int64)
        # A 16-bit grayscale PNG; mode "I" also holds 8-bit-range data in some writers.
        if mode == "I" and raw.size and raw.max() <= 255 and raw.min() >= 0:
            grey = raw.astype(np.uint8)
        else:
            grey = round_16_to_8(np.clip(raw, 0, 65535))
            notes.append(NOTE_16BIT)
        notes.insert(0, NOTE_GRAY)
        arr = np.repeat(grey[..., None], 3, axis=-1)
    elif mode in ("L", "1", "LA", "La"):
        notes.append(NOTE_GRAY)
        if mode in ("LA", "La"):
            notes.append(NOTE_ALPHA)
        grey = np.asarray(img.convert("L"))
        arr = np.repeat(grey[..., None], 3, axis=-1)
    elif mode == "F":
        # 32-bit float pixels have no agreed range ([0, 1] or [0, 255]): converting would guess, and a
        # guess that is wrong gives an all-black image that scores "inf" against another one.
        raise FalsrError(f"{path} holds 32-bit float pixels; falsr reads 8- and 16-bit images — convert "
                         "it to 8- or 16-bit PNG or TIFF first")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        if has_alpha:
            notes.append(NOTE_ALPHA)
        arr = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))[..., :3]
    else:
        notes.append(f"{mode} → RGB")
        arr = np.asarray(img.convert("RGB"))
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return arr, (", ".join(notes) if notes else None)


@contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """`Image.open` whose failures, while open and decoding inside the block, become one FalsrError naming
    the file: missing, not an image, too large, truncated or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FalsrError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            yield img
    except FalsrError:
        raise
    except UnidentifiedImageError:
        raise FalsrError(f"not an image file (or a format Pillow cannot read): {path}") from None
    except Image.DecompressionBombError as e:
        raise FalsrError(f"image too large to read safely: {path} ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error) as e:
        # Pillow reports truncation and bad chunks this way ("image file is truncated", "broken PNG file").
        raise FalsrError(f"corrupt or truncated image: {path} ({e})") from None


def read_rgb(path: str | os.PathLike, exif: bool = False) -> tuple[np.ndarray, str | None]:
    """Read an image as uint8 (H, W, 3) RGB, with a note of any conversion (None if stored as 8-bit RGB).

    `exif=True` applies the EXIF orientation (for photos to upscale); benchmarks keep the raw pixel grid.
    Missing, truncated, corrupt or non-image files raise FalsrError naming the file.
    """
    path = Path(path)
    with open_image(path) as img:
        if exif and img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
            return _to_rgb(path, ImageOps.exif_transpose(img))
        return _to_rgb(path, img)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) from the file header only, without decoding pixels."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise FalsrError(f"image not found: {path}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise FalsrError(f"not a readable image: {path} ({e})") from None


def write_image(path: str | os.PathLike, arr: np.ndarray, quality: int = 95, key: str | None = None) -> None:
    """Write a uint8 (H, W), (H, W, 3) or (H, W, 4) image atomically; format from the extension.

    PNG is lossless; JPEG and WebP use `quality`. The target is replaced only once the file is complete.
    `key` (PNG): a cache entry's key, stored with the pixels' hash so that `read_keyed` can verify it.
    """
    path = Path(path)
    fmt = IMAGE_WRITE_FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        raise FalsrError(f"cannot write {path}: use one of .{', .'.join(sorted(IMAGE_WRITE_FORMATS))}")
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise FalsrError(f"cannot write {path}: expected uint8 pixels, got {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise FalsrError(f"cannot write {path}: expected an (H, W[, 3|4]) image, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    img = Image.fromarray(np.ascontiguousarray(arr))
    if fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    options = save_options(fmt, quality)
    if key is not None and fmt == "PNG":
        options["pnginfo"].add_text(_KEY_TEXT, f"{key} {_pixels_hash(np.asarray(img))}")
    with atomic_path(path, suffix=path.suffix) as tmp:
        img.save(tmp, format=fmt, **options)


_KEY_TEXT = "falsr-cache-key"


def _pixels_hash(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:32]


def read_keyed(path: str | os.PathLike, key: str) -> np.ndarray | None:
    """The uint8 RGB pixels of a cache image written with `key`, or None if it is absent, damaged, or was
    written for another key (a swapped entry is remade, never trusted)."""
    try:
        with open_image(Path(path)) as img:
            claim = str(img.info.get(_KEY_TEXT, "")).split(" ")
            if img.mode != "RGB" or len(claim) != 2 or claim[0] != key:
                return None
            arr = np.asarray(img)
    except (FalsrError, OSError, ValueError):
        return None
    return arr if _pixels_hash(arr) == claim[1] else None


# Every image falsr writes says so in its metadata (PNG text, EXIF Software): `--overwrite` replaces only
# such an image, never one a user made that happens to have an output's name.
MARK = "falsr"
# zlib level of the PNGs falsr writes: OpenCV's imwrite default, which most SR tools write with. On a
# 2000×1500 ×2 photo: 0.24 s against 1.09 s for Pillow's default 6 (quiet Zen 4), for 13 % more bytes.
PNG_COMPRESS_LEVEL = 1
_EXIF_SOFTWARE = 0x0131


def save_options(fmt: str, quality: int) -> dict:
    """PIL save options: JPEG and WebP at `quality` (JPEG without chroma subsampling), PNG lossless at
    PNG_COMPRESS_LEVEL; all carry falsr's mark."""
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", MARK)
        return {"pnginfo": info, "compress_level": PNG_COMPRESS_LEVEL}
    exif = Image.Exif()
    exif[_EXIF_SOFTWARE] = MARK
    if fmt == "JPEG":
        return {"quality": quality, "subsampling": 0, "exif": exif.tobytes()}
    return {"quality": quality, "exif": exif.tobytes()}


def png_mark_chunk() -> tuple[bytes, bytes]:
    """(chunk type, data) of the PNG text chunk that marks an image as falsr's (for hand-written PNGs)."""
    return b"tEXt", b"Software\0" + MARK.encode("ascii")


def is_falsr_image(path: str | os.PathLike) -> bool:
    """Whether the image at `path` carries falsr's mark (it is a previous output, not a user's image)."""
    try:
        with Image.open(path) as img:
            if img.info.get("Software") == MARK:
                return True
            return img.getexif().get(_EXIF_SOFTWARE) == MARK
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in `folder`, in natural order (t2 before t10); hidden files skipped."""
    folder = Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(files, key=natural_key)


def natural_key(path: Path | str) -> list:
    """Sort key of a file name (or any text) that orders embedded numbers numerically."""
    name = path.name if isinstance(path, Path) else path
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]
