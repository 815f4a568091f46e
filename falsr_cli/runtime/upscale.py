"""`falsr upscale`: super-resolve users' photos, tile by tile, in the colour handling of the FALSR models.

Luma goes through the network; chroma (and alpha) are upscaled bicubically, and the fixed YPbPr→RGB
stage of the published graphs makes the RGB result — 8-bit photos come out exactly as `falsr evaluate`
computes them (×255, clip, truncate). Grayscale photos stay grayscale, 16-bit photos are computed in
float and written with 16 bits (PNG), and the EXIF orientation is applied.

Every photo is cut into tiles (`runtime.tiling`) whose overlap is at least the network's receptive field,
so the result equals the untiled one while memory stays bounded by the tile size.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from falsr_cli.data import color
from falsr_cli.errors import FalsrError
from falsr_cli.runtime.photo_io import FORMATS, Photo, read_photo, write_photo
from falsr_cli.runtime.tiling import Tile, check_tiling, plan_tiles, run_tiled
from falsr_cli.space.pb_import import graph_architecture, sidecar_architecture

# PIL's bicubic reaches 2 LR pixels; tiles always carry at least this much context for chroma and alpha.
BICUBIC_CONTEXT = 3
DEFAULT_TILE = 256
UNKNOWN_RF_PAD = 16
_GLOB_CHARS = set("*?[")


@dataclass
class SRModel:
    """A network as `upscale` runs it: luma only, or the full FALSR interface; neither means bicubic."""

    name: str
    scale: int | None  # None: any scale (bicubic)
    receptive_field: int | None  # LR pixels; None when unknown
    luma: Callable[[np.ndarray], np.ndarray] | None = None  # (1,h,w,1) f32 → (1,sh,sw,1)
    interface: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # y, pbpr → RGB [0,1]

    @property
    def bicubic(self) -> bool:
        return self.luma is None and self.interface is None

    def rgb01(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """(1,h,w,1) LR luma and (1,sh,sw,2) PbPr → (sh,sw,3) RGB in [0,1]."""
        if self.interface is not None:
            return np.asarray(self.interface(y, pbpr))[0]
        hr_y = np.asarray(self.luma(y))[0]
        return color.ypbpr_to_rgb255(hr_y, pbpr[0]) / 255.0


# ---- models ----


def keras_sr_model(model: Any, arch: Any = None, name: str = "model") -> SRModel:
    """An SRModel over a Keras luma model, traced once for every tile size."""
    from falsr_cli.runtime.upscalers import keras_luma_fn

    scale = arch.scale if arch is not None else None
    if scale is None:
        from falsr_cli.export.exporter import model_scale

        scale = model_scale(model)
    return SRModel(name, scale, _receptive_field(arch), luma=keras_luma_fn(model))


def _receptive_field(arch: Any) -> int | None:
    """LR pixels the network sees, from its architecture; None when the architecture is unknown."""
    if arch is None:
        return None
    from falsr_cli.cost.cost_model import receptive_field

    return receptive_field(arch)


def _graph_model(path: Path) -> SRModel:
    """A frozen graph, run as it is: the FALSR interface (published or exported) or `--interface y`."""
    from falsr_cli.runtime.graph import check_ops, interface_graph, read_graph_def
    from falsr_cli.runtime.upscalers import probe_scale

    graph_def = read_graph_def(path)
    check_ops(graph_def, str(path))
    try:
        arch = graph_architecture(graph_def, path)
    except FalsrError:
        arch = None  # not a FALSR-space graph: run it, but the receptive field is unknown
    graph, is_interface = interface_graph(graph_def, str(path))
    interface: Callable | None = graph if is_interface else None
    luma = None if is_interface else graph
    scale = arch.scale if arch is not None else probe_scale(graph, interface is not None, path.name)
    return SRModel(path.stem, scale, _receptive_field(arch), luma=luma, interface=interface)


def _tflite_model(path: Path) -> SRModel:
    from falsr_cli.export.tflite_runtime import TFLiteModel

    model = TFLiteModel(path)
    rf = _receptive_field(sidecar_architecture(path))
    if model.interface == "y":
        return SRModel(model.name, model.scale, rf, luma=model)
    return SRModel(model.name, model.scale, rf, interface=model)


def load_sr_model(spec: str | os.PathLike | None = None, weights: str | None = None) -> SRModel:
    """MODEL for `upscale`: 'bicubic', a .pb, a .tflite, a training run/checkpoint, or an arch + weights.

    No spec: the project's pretrained FALSR-A (pretrained_model/FALSR-A.pb).
    """
    from falsr_cli.export.source import default_model_path, load_keras_model

    if spec is None:
        spec = default_model_path()
    spec = str(spec)
    if spec.lower() == "bicubic":
        return SRModel("bicubic", None, None)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".pb", ".tflite") and not path.is_file():
        raise FalsrError(f"model file not found: {spec}")
    if suffix == ".pb" and not weights:
        return _graph_model(path)
    if suffix == ".tflite":
        return _tflite_model(path)
    loaded = load_keras_model(spec, weights)
    return keras_sr_model(loaded.model, loaded.arch, name=path.stem or spec)


# ---- one photo ----


def _resize(a: np.ndarray, scale: int) -> np.ndarray:
    """PIL bicubic ×scale of a uint8 (H,W[,3]) array (as the FALSR chroma), else per plane in float."""
    h, w = a.shape[:2]
    if a.dtype == np.uint8:
        return color.pil_bicubic_resize(a, h * scale, w * scale)
    size = (w * scale, h * scale)
    planes = a[..., None] if a.ndim == 2 else a
    out = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(planes[..., c], np.float32), mode="F").resize(
                size, Image.BICUBIC
            )
        )
        for c in range(planes.shape[-1])
    ]
    return np.stack(out, axis=-1) if a.ndim == 3 else out[0]


def _from01(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Model values in [0,1] → pixels: 8-bit truncates (as the FALSR script), 16-bit rounds."""
    if dtype == np.uint8:
        return color.to_uint8(x)
    return np.floor(np.clip(np.asarray(x, np.float64), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def _sr_crop(crop: np.ndarray, model: SRModel, scale: int) -> np.ndarray:
    """Super-resolve one LR crop (grey or RGB, 8 or 16 bit) to its HR pixels of the same kind."""
    if model.bicubic:
        return _bicubic(crop, scale)
    peak = 255.0 if crop.dtype == np.uint8 else 65535.0
    if crop.ndim == 2 and model.luma is not None:
        y = (crop.astype(np.float64) / peak).astype(np.float32)[None, ..., None]
        return _from01(np.asarray(model.luma(y))[0, ..., 0], crop.dtype)
    rgb = crop if crop.ndim == 3 else np.repeat(crop[..., None], 3, axis=-1)
    if rgb.dtype == np.uint8:
        from falsr_cli.runtime.upscalers import falsr_inputs

        y, pbpr = falsr_inputs(rgb, scale)  # exactly what evaluate feeds the FALSR graphs
    else:
        rgb01 = rgb.astype(np.float64) / peak
        y = color.rgb_to_ypbpr(rgb01)[None, ..., :1].astype(np.float32)
        pbpr = color.rgb_to_ypbpr(np.clip(_resize(rgb01.astype(np.float32), scale), 0.0, 1.0))[None, ..., 1:]
        pbpr = pbpr.astype(np.float32)
    out = model.rgb01(y, pbpr)
    if crop.ndim == 2:  # a grey photo through an RGB-only model: back to grey
        out = color.rgb_to_ypbpr(np.clip(out, 0.0, 1.0))[..., 0]
    return _from01(out, crop.dtype)


def upscale_photo(
    photo: Photo,
    model: SRModel,
    scale: int,
    tile: int = DEFAULT_TILE,
    tile_pad: int | None = None,
    on_tile: Callable[[int], None] | None = None,
) -> Photo:
    """Super-resolve a photo tile by tile; `on_tile(n_tiles)` is called after each tile."""
    pad = tile_pad if tile_pad is not None else (model.receptive_field or UNKNOWN_RF_PAD)
    h, w = photo.pixels.shape[:2]
    tiles = plan_tiles(h, w, tile, max(pad, BICUBIC_CONTEXT))
    done = (lambda: on_tile(len(tiles))) if on_tile else None
    out = np.empty((h * scale, w * scale, *photo.pixels.shape[2:]), photo.pixels.dtype)

    def process(t: Tile) -> np.ndarray:
        return _sr_crop(photo.pixels[t.cy0 : t.cy1, t.cx0 : t.cx1], model, scale)

    run_tiled(tiles, scale, process, out, done)
    alpha = None
    if photo.alpha is not None:
        alpha = np.empty((h * scale, w * scale), photo.alpha.dtype)
        run_tiled(
            tiles, scale, lambda t: _bicubic(photo.alpha[t.cy0 : t.cy1, t.cx0 : t.cx1], scale), alpha
        )
    return Photo(out, alpha)


def _bicubic(a: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ×scale of 8-bit or 16-bit pixels (photos for `bicubic`, and every alpha plane)."""
    if a.dtype == np.uint8:
        return _resize(a, scale)
    return np.clip(np.floor(_resize(a.astype(np.float32), scale) + 0.5), 0, 65535).astype(np.uint16)


# ---- files ----


def collect_inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Files from files, folders (their images, not recursive) and globs; plus one error per bad item."""
    from falsr_cli.data.images import list_images

    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            found = list_images(path)
            if not found:
                errors.append(f"{path}: no images in this folder")
            for p in found:
                add(p)
        elif path.is_file():
            add(path)
        elif _GLOB_CHARS & set(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                errors.append(f"{text}: no files match")
            for p in matches:
                add(p)
        else:
            errors.append(f"{text}: no such file or folder")
    return files, errors


def output_name(path: Path, scale: int, fmt: str | None) -> str:
    """`<stem>_x2.<ext>`: the format asked for, else the input's own if writable, else png."""
    ext = fmt or path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        ext = "png"
    return f"{path.stem}_x{scale}.{ext}"


def upscale_files(
    inputs: Sequence[str | os.PathLike],
    model: str | os.PathLike | SRModel | None,
    out_dir: str | os.PathLike,
    scale: int = 2,
    tile: int = DEFAULT_TILE,
    tile_pad: int | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
    *,
    weights: str | None = None,
    quality: int = 95,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Upscale every input into `out_dir`; a bad file is reported and skipped, the others still processed.

    Returns {written, skipped, failed: [(input, message)], model, scale, tile, tile_pad, seconds}.
    Setup problems (output folder is a file, scale or tile mismatch, unknown model) raise FalsrError
    before any file is touched.
    """
    from falsr_cli.console import progress as progress_bar

    start = time.perf_counter()
    log = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FalsrError(f"--out {out_dir} is a file, not a folder")
    if fmt is not None and fmt.lower() not in FORMATS:
        raise FalsrError(f"unknown output format {fmt!r}: use png, jpg or webp")
    if scale < 2 or scale > 4:
        raise FalsrError(f"--scale must be 2, 3 or 4, got {scale}")
    sr = model if isinstance(model, SRModel) else load_sr_model(model, weights)
    if sr.scale is not None and sr.scale != scale:
        raise FalsrError(f"model {sr.name} upscales ×{sr.scale}, but --scale {scale} was asked for")
    pad = tile_pad if tile_pad is not None else (sr.receptive_field or UNKNOWN_RF_PAD)
    check_tiling(tile, pad, sr.receptive_field)
    if sr.receptive_field is None and not sr.bicubic and tile:
        log(f"note: the receptive field of {sr.name} is unknown; tiles overlap by {pad} pixels (--tile-pad)")
    files, input_errors = collect_inputs(inputs)
    failed: list[tuple[str, str]] = [(e.split(":", 1)[0], e) for e in input_errors]
    written: list[str] = []
    skipped: list[tuple[str, str]] = []
    planned: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task(f"upscale ×{scale}", total=len(files))
        for done, path in enumerate(files):
            target = out_dir / output_name(path, scale, fmt.lower() if fmt else None)
            bar.update(task, description=path.name, completed=done)
            if target.name in planned:
                failed.append(
                    (str(path), f"{path}: output {target} clashes with that of {planned[target.name]}")
                )
            elif target.exists() and not overwrite:
                skipped.append((str(path), f"{target} exists (--overwrite replaces it)"))
            else:
                planned[target.name] = path
                try:
                    photo = read_photo(path)
                    # The bar moves by tiles within a photo, so one huge photo shows progress too.
                    result = upscale_photo(
                        photo, sr, scale, tile, pad, on_tile=lambda n: bar.advance(task, 1 / n)
                    )
                    for note in write_photo(target, result, quality=quality):
                        log(f"{target.name}: {note}")
                    written.append(str(target))
                except FalsrError as e:
                    failed.append((str(path), str(e)))
                except MemoryError:
                    failed.append((str(path), f"{path}: out of memory (use a smaller --tile)"))
            bar.update(task, completed=done + 1)
    return {
        "model": sr.name,
        "scale": scale,
        "tile": tile,
        "tile_pad": pad,
        "written": written,
        "skipped": skipped,
        "failed": failed,
        "seconds": time.perf_counter() - start,
    }
