"""LR/HR image pairs for evaluation and HR images for training, from a data set name or a folder.

A spec is one of:
- a registered data set name (`Set5`, `B100`, `T91`, `DIV2K`, … and the built-in `samples`), fetched
  first if it is not present locally and `download` is true;
- a folder of pairs named `img_NNN_SRF_<scale>_LR.png` / `img_NNN_SRF_<scale>_HR.png`;
- a folder of HR images only: each is cropped to a multiple of the scale (modcrop) and its LR made by the
  MATLAB-compatible bicubic, cached under `<data dir>/.cache/` by content hash so it is made only once.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from falsr_cli.atomic import sha256_file
from falsr_cli.data import registry
from falsr_cli.data.images import list_images, natural_key, read_keyed, read_rgb, write_image
from falsr_cli.data.imresize import imresize, modcrop
from falsr_cli.errors import FalsrError
from falsr_cli.paths import data_dir as default_data_dir
from falsr_cli.reporting import ByteReport

# Bump when the LR degradation changes, so stale cached LR images are not reused.
LR_CACHE_VERSION = "matlab-bicubic-v1"
_PAIR_RE = re.compile(
    r"^(?P<stem>.+)_SRF_(?P<scale>\d+)_(?P<kind>LR|HR)\.(?P<ext>png|bmp|tif|tiff)$", re.IGNORECASE
)


@dataclass
class ImagePair:
    """One LR/HR pair: uint8 RGB arrays, HR exactly `scale` times LR; `note` flags converted inputs."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    note: str | None = None


def _join_notes(*notes: tuple[str, str | None]) -> str | None:
    parts = [f"{label}: {note}" if label else note for label, note in notes if note]
    # The same conversion on both images is said once.
    if len(notes) == 2 and notes[0][1] and notes[0][1] == notes[1][1]:
        return notes[0][1]
    return "; ".join(parts) if parts else None


def resolve_folder(
    spec: str | os.PathLike, data_dir: str | os.PathLike | None = None, download: bool = True,
    on_download: ByteReport | None = None,
) -> Path:
    """The local folder a spec stands for: a registered data set (fetched if needed, `on_download` following
    the transfer) or an existing folder."""
    text = str(spec)
    if registry.find_dataset(text) is not None:
        return registry.ensure_dataset(text, data_dir=data_dir, download=download, on_download=on_download)
    path = Path(spec)
    if path.is_dir():
        return path
    if path.exists():
        raise FalsrError(f"not a folder: {path} (give a data set name or a folder of images)")
    names = ", ".join(d.name for d in registry.list_datasets())
    raise FalsrError(f"unknown data set or folder: {text} (registered: {names})")


def dataset_folder(spec: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path:
    """Where a data set spec's images are (or will be, once fetched), without fetching: the folder an
    output must never be written into."""
    if registry.find_dataset(str(spec)) is not None:
        return registry.dataset_dir(str(spec), data_dir)
    return Path(spec)


def _pair_files(folder: Path) -> dict[str, dict[int, dict[str, Path]]]:
    """{stem: {scale: {"LR": path, "HR": path}}} for files named like `img_001_SRF_2_HR.png`."""
    found: dict[str, dict[int, dict[str, Path]]] = {}
    for p in folder.iterdir():
        m = _PAIR_RE.match(p.name)
        if m and p.is_file():
            found.setdefault(m["stem"], {}).setdefault(int(m["scale"]), {})[m["kind"].upper()] = p
    return found


def is_pair_folder(folder: str | os.PathLike) -> bool:
    """True if the folder holds `*_SRF_<s>_{LR,HR}` files (any scale)."""
    return bool(_pair_files(Path(folder)))


def _load_pair_folder(folder: Path, scale: int) -> list[ImagePair]:
    found = _pair_files(folder)
    stems = sorted((s for s in found if scale in found[s]), key=natural_key)
    if not stems:
        scales = sorted({sc for v in found.values() for sc in v})
        raise FalsrError(f"no x{scale} pairs in {folder} (it holds x{', x'.join(map(str, scales))} pairs)")
    pairs = []
    for stem in stems:
        files = found[stem][scale]
        for kind in ("LR", "HR"):
            if kind not in files:
                other = files["HR" if kind == "LR" else "LR"]
                raise FalsrError(f"{other} has no matching {kind} image ({stem}_SRF_{scale}_{kind}.png)")
        lr, lr_note = read_rgb(files["LR"])
        hr, hr_note = read_rgb(files["HR"])
        if hr.shape[0] != lr.shape[0] * scale or hr.shape[1] != lr.shape[1] * scale:
            raise FalsrError(
                f"{files['HR']} is {hr.shape[1]}x{hr.shape[0]} but its LR image is "
                f"{lr.shape[1]}x{lr.shape[0]} (expected exactly x{scale})"
            )
        pairs.append(ImagePair(stem, lr, hr, _join_notes(("LR", lr_note), ("HR", hr_note))))
    return pairs


def _cached_lr(path: Path, hr: np.ndarray, scale: int, cache_dir: Path | None) -> np.ndarray:
    """LR of a modcropped HR image, read from or written to the content-keyed cache."""
    if cache_dir is None:
        return imresize(hr, 1.0 / scale)
    key = hashlib.sha256(f"{sha256_file(path)}:{scale}:{LR_CACHE_VERSION}".encode()).hexdigest()[:32]
    cached = cache_dir / f"{key}.png"
    expected = (hr.shape[0] // scale, hr.shape[1] // scale, 3)
    if cached.is_file():
        lr = read_keyed(cached, key)  # verified against its key: a damaged or swapped entry is remade
        if lr is not None and lr.shape == expected:
            return lr
    lr = imresize(hr, 1.0 / scale)
    try:
        write_image(cached, lr, key=key)
    except OSError:
        pass  # a read-only data folder only costs recomputation
    return lr


def lr_cache_dir(data_dir: str | os.PathLike | None = None, scale: int = 2) -> Path:
    """Where LR images made from HR-only folders are cached."""
    return default_data_dir(data_dir) / ".cache" / f"lr_x{scale}"


def _split_names(spec: str | os.PathLike) -> set[str] | None:
    """The file names a registered split (e.g. BSDS200-val) keeps of its parent's folder; None otherwise."""
    ds = registry.find_dataset(str(spec))
    return set(ds.file_names) if ds is not None and ds.parent else None


def _load_hr_folder(
    folder: Path, scale: int, data_dir: str | os.PathLike | None, cache: bool, only: set[str] | None = None
) -> list[ImagePair]:
    files = [p for p in list_images(folder) if only is None or p.name in only]
    if not files:
        raise FalsrError(f"no images in {folder} (expected .png/.jpg/.bmp/.tif files)")
    cache_dir = lr_cache_dir(data_dir, scale) if cache else None
    pairs = []
    for path in files:
        hr, note = read_rgb(path)
        hr = modcrop(hr, scale)
        if min(hr.shape[:2]) < scale:
            raise FalsrError(f"{path} ({hr.shape[1]}x{hr.shape[0]}) is too small for x{scale}")
        lr = _cached_lr(path, hr, scale, cache_dir)
        pairs.append(ImagePair(path.stem, lr, hr, note))
    return pairs


def load_pairs(
    spec: str | os.PathLike,
    scale: int = 2,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    cache: bool = True,
    on_download: ByteReport | None = None,
) -> list[ImagePair]:
    """LR/HR pairs of a data set name or a folder (pairs, or HR only → LR made and cached)."""
    if scale < 1:
        raise FalsrError(f"scale must be a positive integer, got {scale}")
    folder = resolve_folder(spec, data_dir=data_dir, download=download, on_download=on_download)
    if is_pair_folder(folder):
        return _load_pair_folder(folder, scale)
    return _load_hr_folder(folder, scale, data_dir, cache, only=_split_names(spec))


def downscaled_pairs(pairs: list[ImagePair], factors: Sequence[float], scale: int) -> list[ImagePair]:
    """Copies of each pair at smaller sizes (FSRCNN's scale augmentation): HR downscaled by each factor with
    MATLAB bicubic and cropped to a multiple of `scale`, its LR made from it as every LR is.

    Named `<name>@<factor>`; copies smaller than one LR pixel are left out.
    """
    out = []
    for p in pairs:
        for f in factors:
            hr = modcrop(imresize(p.hr, float(f)), scale)
            if min(hr.shape[:2]) < scale:
                continue
            out.append(ImagePair(f"{p.name}@{f:g}", imresize(hr, 1.0 / scale), hr, p.note))
    return out


def list_hr_files(
    spec: str | os.PathLike, data_dir: str | os.PathLike | None = None, download: bool = True
) -> list[Path]:
    """Paths of the HR images of a data set or folder (for loaders that read lazily, e.g. DIV2K)."""
    folder = resolve_folder(spec, data_dir=data_dir, download=download)
    found = _pair_files(folder)
    if found:
        hr = [v["HR"] for stem in sorted(found, key=natural_key) for v in found[stem].values() if "HR" in v]
        # One HR per stem even if several scales are present.
        seen: set[Path] = set()
        out = [p for p in hr if not (p in seen or seen.add(p))]
    else:
        only = _split_names(spec)
        out = [p for p in list_images(folder) if only is None or p.name in only]
    if not out:
        raise FalsrError(f"no images in {folder} (expected .png/.jpg/.bmp/.tif files)")
    return out


def load_hr_images(
    spec: str | os.PathLike, data_dir: str | os.PathLike | None = None, download: bool = True
) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB) of every HR image of a data set or folder, uncropped."""
    out = []
    for path in list_hr_files(spec, data_dir=data_dir, download=download):
        m = _PAIR_RE.match(path.name)
        name = m["stem"] if m else path.stem
        out.append((name, read_rgb(path)[0]))
    return out
