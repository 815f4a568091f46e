"""The built-in `samples` ×2 set: photos that scikit-image ships in its wheel, usable with no download.

Each photo is centre-cropped to at most 256×256 (even sizes), its LR made by the MATLAB-compatible bicubic,
and the pairs are written once to `<data dir>/samples/img_NNN_SRF_2_{LR,HR}.png` with a small manifest
(`samples.json`) recording the recipe version and each file's sha256.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from falsr_cli.atomic import sha256_file, write_json
from falsr_cli.data.images import write_image
from falsr_cli.data.imresize import imresize, modcrop
from falsr_cli.data.verify import VerifyReport
from falsr_cli.errors import FalsrError
from falsr_cli.paths import data_dir as resolve_data_dir

SAMPLES = "samples"  # the registry's name for this set
SCALE = 2
CROP = 256
# Public-domain / CC0 photos in skimage/data (present in the wheel, no pooch download).
SAMPLE_IMAGES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "ihc.png")
# Bump when the recipe changes so existing caches are rebuilt.
RECIPE = f"v1:{CROP}:{SCALE}:{','.join(SAMPLE_IMAGES)}"
MANIFEST = "samples.json"


def skimage_data_dir() -> Path:
    """The `data` folder inside the installed scikit-image package (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FalsrError("the built-in samples need scikit-image installed (pip install scikit-image)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def samples_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return resolve_data_dir(data_dir) / "samples"


def _centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(h, size), min(w, size)
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[top : top + ch, left : left + cw]


def sample_hr_images() -> list[tuple[str, np.ndarray]]:
    """(source file name, HR uint8 RGB) of each sample, cropped and made divisible by the scale."""
    folder = skimage_data_dir()
    out = []
    for name in SAMPLE_IMAGES:
        path = folder / name
        if not path.is_file():
            raise FalsrError(f"scikit-image sample image missing: {path} (reinstall scikit-image)")
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        out.append((name, modcrop(_centre_crop(rgb, CROP), SCALE)))
    return out


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("recipe") == RECIPE else None


def samples_present(data_dir: str | os.PathLike | None = None) -> bool:
    """True if the sample pairs exist, made by the current recipe."""
    folder = samples_dir(data_dir)
    manifest = _read_manifest(folder)
    return manifest is not None and all((folder / f["name"]).is_file() for f in manifest["files"])


def ensure_samples(data_dir: str | os.PathLike | None = None) -> Path:
    """Make the sample pairs once (fast: a few small images) and return their folder."""
    folder = samples_dir(data_dir)
    if samples_present(data_dir):
        return folder
    files = []
    for i, (source, hr) in enumerate(sample_hr_images(), start=1):
        lr = imresize(hr, 1.0 / SCALE)
        for kind, arr in (("HR", hr), ("LR", lr)):
            name = f"img_{i:03d}_SRF_{SCALE}_{kind}.png"
            write_image(folder / name, arr)
            files.append(
                {"name": name, "source": f"skimage/data/{source}", "sha256": sha256_file(folder / name)}
            )
    write_json(folder / MANIFEST, {"recipe": RECIPE, "files": files})
    return folder


def verify_samples(data_dir: str | os.PathLike | None = None) -> VerifyReport:
    """A VerifyReport for the samples folder, checked against its manifest."""
    folder = samples_dir(data_dir)
    report = VerifyReport(SAMPLES, folder)
    manifest = _read_manifest(folder)
    if manifest is None:
        report.missing.append(MANIFEST)
        return report
    for f in manifest["files"]:
        path = folder / f["name"]
        if not path.is_file():
            report.missing.append(f["name"])
        elif sha256_file(path) != f["sha256"]:
            report.bad.append((f["name"], "sha256 differs from the manifest"))
        else:
            report.ok.append(f["name"])
    return report
