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
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from falsr_cli.data import color
from falsr_cli.data.images import is_falsr_image, list_images
from falsr_cli.data.imresize import matlab_bicubic
from falsr_cli.errors import FalsrError
from falsr_cli.models.engine import faster_cpu_engine, gpu_visible
from falsr_cli.models.network import SRNet, falsr_inputs
from falsr_cli.outputs import claim_folder
from falsr_cli.reporting import BarFactory, bar
from falsr_cli.runtime.open import default_model_path, open_model
from falsr_cli.runtime.photo_io import IMAGE_WRITE_FORMATS, Photo, read_photo, write_photo
from falsr_cli.runtime.tiling import Tile, check_tiling, plan_tiles, run_tiled, tile_for_memory
from falsr_cli.runtime.zoo import find_model

# PIL's bicubic reaches 2 LR pixels; tiles always carry at least this much context for chroma and alpha.
BICUBIC_CONTEXT = 3
# Network working memory a tile may take by default (`--memory 1G`); the tile size follows from it
# (runtime.tiling): cores of 384 LR pixels a side for FALSR-A, 568 for B, 544 for C.
DEFAULT_MEMORY = 1e9
DEFAULT_TILE = 256  # where the architecture (so the activation size) is unknown
# TFLite/XNNPACK's working memory against TensorFlow's estimate (cost_model.working_floats): 1.28 / 1.69 /
# 1.10× for FALSR-A/B/C (VmHWM growth over a 310×310 tile after a warm-up call, Zen 5).
TFLITE_MEMORY_FACTOR = 1.7
UNKNOWN_RF_PAD = 16
_GLOB_CHARS = set("*?[")


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


def _sr_crop(crop: np.ndarray, model: SRNet, scale: int) -> np.ndarray:
    """Super-resolve one LR crop (grey or RGB, 8 or 16 bit) to its HR pixels of the same kind."""
    if model.is_bicubic:
        return matlab_bicubic(crop, scale)
    peak = 255.0 if crop.dtype == np.uint8 else 65535.0
    if crop.ndim == 2 and model.luma is not None:
        y = (crop.astype(np.float64) / peak).astype(np.float32)[None, ..., None]
        return _from01(np.asarray(model.luma(y))[0, ..., 0], crop.dtype)
    rgb = crop if crop.ndim == 3 else np.repeat(crop[..., None], 3, axis=-1)
    if rgb.dtype == np.uint8:
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


def tile_size(model: SRNet, pad: int, memory: float = DEFAULT_MEMORY) -> int:
    """The tile (core, LR pixels a side) whose network working memory fits `memory` bytes."""
    if model.is_bicubic:
        return 0  # no network: the interpolation's memory is that of the image
    if model.working_floats is None:
        return DEFAULT_TILE
    return tile_for_memory(memory, _working_floats(model), pad)


def _working_floats(model: SRNet) -> int:
    """Floats per LR pixel of a tile in the runtime that runs `model`."""
    factor = TFLITE_MEMORY_FACTOR if model.runtime == "tflite" else 1.0
    return math.ceil(factor * (model.working_floats or 0))


def upscale_photo(
    photo: Photo,
    model: SRNet,
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
    """PIL bicubic ×scale of 8- or 16-bit pixels (alpha planes, like the chroma in the FALSR colour stage)."""
    if a.dtype == np.uint8:
        return _resize(a, scale)
    return np.clip(np.floor(_resize(a.astype(np.float32), scale) + 0.5), 0, 65535).astype(np.uint16)


# ---- files ----


def collect_inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Files from files, folders (their images, not recursive) and globs; plus one error per bad item."""
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
    if ext not in IMAGE_WRITE_FORMATS:
        ext = "png"
    return f"{path.stem}_x{scale}.{ext}"


def plan_outputs(
    files: Sequence[Path], out_dir: Path, scale: int, fmt: str | None, overwrite: bool,
    reserved: Sequence[str | os.PathLike] = (),
) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Each input's output in `out_dir`: ([(input, output) to write], skipped, failed as (input, message))."""
    todo: list[tuple[Path, Path]] = []
    skipped: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    planned: dict[str, Path] = {}
    taken = {Path(os.path.realpath(p)) for p in reserved}
    for path in files:
        target = out_dir / output_name(path, scale, fmt.lower() if fmt else None)
        if target.name in planned:
            failed.append((str(path), f"{path}: output {target} clashes with that of {planned[target.name]}"))
        elif Path(os.path.realpath(target)) in taken:
            failed.append((str(path), f"{path}: output {target} is the file given to --json"))
        elif target.exists() and not overwrite:
            skipped.append((str(path), f"{target} exists (--overwrite replaces it)"))
        elif target.exists() and not is_falsr_image(target):
            failed.append((str(path), f"{path}: output {target} exists and is not an image falsr wrote; "
                                      "it is not replaced even with --overwrite"))
        else:
            planned[target.name] = path
            todo.append((path, target))
    return todo, skipped, failed


def _opens_cheaply(model: str | os.PathLike | None) -> bool:
    """Whether MODEL is there to be opened, found without opening it: bicubic, a file or folder that
    exists, a model's name whose file is here, or no MODEL with the default model present. Anything else
    (a name to download, a typo) is opened as usual, so it fails or downloads as it would."""
    if model is None:
        try:
            return default_model_path().is_file()
        except FalsrError:
            return False
    spec = str(model)
    if spec.lower() == "bicubic" or os.path.exists(spec):
        return True
    entry = find_model(spec)
    return entry is not None and entry.present


def _finish_write(writing: tuple[Future, Path, Path], written: list[str],
                  failed: list[tuple[str, str]]) -> None:
    future, path, target = writing
    try:
        future.result()
        written.append(str(target))
    except FalsrError as e:
        failed.append((str(path), str(e)))


def upscale_files(
    inputs: Sequence[str | os.PathLike],
    model: str | os.PathLike | SRNet | None,
    out_dir: str | os.PathLike,
    scale: int = 2,
    tile: int | None = None,
    tile_pad: int | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
    *,
    memory: float = DEFAULT_MEMORY,
    weights: str | None = None,
    quality: int = 95,
    progress: BarFactory | None = None,
    log: Callable[[str], None] | None = None,
    engine: str = "auto",
    threads: int | None = None,
    reserved: Sequence[str | os.PathLike] = (),
) -> dict[str, Any]:
    """Upscale every input into `out_dir`; a bad file is reported and skipped, the others still processed.

    `reserved`: files the caller writes itself (its --json): a photo whose output would be one fails.

    `tile` None sizes the tiles so that the network's working memory stays within `memory` bytes.
    The network runs in `engine` (tf, xnnpack, auto: the faster here; see models/engine.py). The next photo
    is decoded and the previous one encoded while the network works on the current one.
    Returns {written, skipped, failed: [(input, message)], model, scale, tile, tile_pad, memory, engine,
    seconds, load_seconds (of `seconds`, opening the model: import, conversion)}. With nothing to write
    (every output exists, say) a model that is there is not opened: engine None, tile as given.
    Setup problems (output folder is a file, scale or tile mismatch, unknown model) raise FalsrError
    before any file is touched.
    `progress` (a factory like console.progress) draws a bar that moves by tiles.
    """
    start = time.perf_counter()
    log = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    files, input_errors = collect_inputs(inputs)
    # A folder that holds an input is refused: the run would write beside its inputs and, with
    # --overwrite (or an input named like an output), over them.
    read = [*files, *(p for p in inputs if Path(p).is_dir())]
    if isinstance(model, str | os.PathLike) and os.path.exists(model):
        read.append(model)
    claim_folder(out_dir, inputs=read, flag="--out")
    if fmt is not None and fmt.lower() not in IMAGE_WRITE_FORMATS:
        raise FalsrError(f"unknown output format {fmt!r}: use png, jpg or webp")
    if scale < 2 or scale > 4:
        raise FalsrError(f"--scale must be 2, 3 or 4, got {scale}")
    if memory <= 0:
        raise FalsrError(f"--memory must be positive, got {memory:g} bytes")
    todo, skipped, failed = plan_outputs(files, out_dir, scale, fmt, overwrite, reserved)
    failed[:0] = [(e.split(":", 1)[0], e) for e in input_errors]
    if not todo and not isinstance(model, SRNet) and weights is None and _opens_cheaply(model):
        # Nothing to write (a rerun over outputs that all exist, say): the model is not opened, which
        # takes seconds of TensorFlow, only to be told so.
        name = Path(str(model) if model is not None else default_model_path()).stem
        return {"model": name, "scale": scale, "tile": tile, "tile_pad": tile_pad, "memory": memory,
                "engine": None, "engine_choice": None, "load_seconds": 0.0, "written": [],
                "skipped": skipped, "failed": failed, "seconds": time.perf_counter() - start}
    sr = model if isinstance(model, SRNet) else open_model(model, weights, engine=engine, threads=threads)
    used = sr.engine  # what runs it (a .tflite runs in XNNPACK, whatever --engine says)
    # --engine auto's choice on a CPU, with the two timings it was made from (measured once per machine,
    # so read back here); bicubic and a .tflite leave nothing to choose
    auto_on_cpu = (engine == "auto" and not isinstance(model, SRNet) and not sr.is_bicubic
                   and not str(model).lower().endswith(".tflite") and not gpu_visible())
    choice = faster_cpu_engine() if auto_on_cpu else None
    load_seconds = time.perf_counter() - start
    if sr.scale is not None and sr.scale != scale:
        raise FalsrError(f"model {sr.name} upscales ×{sr.scale}, but --scale {scale} was asked for")
    pad = tile_pad if tile_pad is not None else (sr.receptive_field or UNKNOWN_RF_PAD)
    if tile is None:
        tile = tile_size(sr, max(pad, BICUBIC_CONTEXT), memory)
        rf = sr.receptive_field or 0
        # The smallest tile the network can run seamlessly (tile_for_memory never goes below 8) must fit:
        # a budget it cannot keep is refused, not quietly exceeded.
        need = 4 * _working_floats(sr) * (max(rf, 8) + 2 * max(pad, BICUBIC_CONTEXT)) ** 2
        if sr.working_floats and need > memory:
            unit, size = ("M", 1e6) if need >= 1e6 else ("K", 1e3)
            enough = f"{math.ceil(need / size)}{unit}"
            raise FalsrError(f"--memory ({memory:,.0f} bytes) is too small for {sr.name}: its smallest "
                             f"seamless tile ({max(rf, 8)} pixels and the overlap) needs {enough}; give "
                             f"--memory {enough} or more")
    check_tiling(tile, pad, sr.receptive_field)
    if sr.receptive_field is None and not sr.is_bicubic and tile:
        log(f"note: the receptive field of {sr.name} is unknown; tiles overlap by {pad} pixels (--tile-pad)")
    written: list[str] = []
    out_dir.mkdir(parents=True, exist_ok=True)

    def save(target: Path, result: Photo) -> None:
        for note in write_photo(target, result, quality=quality):
            log(f"{target.name}: {note}")

    # nothing to upscale (every output exists, say): no empty bar
    with bar(progress if todo else None) as bars, ThreadPoolExecutor(max_workers=2) as io:
        task = bars.add_task(f"upscale ×{scale}", total=len(todo))
        # Decoding and encoding (PIL releases the GIL) overlap the network: one photo read ahead, one
        # written behind, so at most three photos are in memory.
        reading = io.submit(read_photo, todo[0][0]) if todo else None
        writing: tuple[Future, Path, Path] | None = None
        for done, (path, target) in enumerate(todo):
            bars.update(task, description=path.name, completed=done)
            try:
                photo = reading.result()
            except FalsrError as e:
                photo = None
                failed.append((str(path), str(e)))
            reading = io.submit(read_photo, todo[done + 1][0]) if done + 1 < len(todo) else None
            if photo is not None:
                try:
                    # The bar moves by tiles within a photo, so one huge photo shows progress too.
                    result = upscale_photo(photo, sr, scale, tile, pad,
                                           on_tile=lambda n: bars.advance(task, 1 / n))
                    del photo
                    if writing is not None:
                        _finish_write(writing, written, failed)
                    writing = (io.submit(save, target, result), path, target)
                except FalsrError as e:
                    failed.append((str(path), str(e)))
                except MemoryError:
                    failed.append((str(path), f"{path}: out of memory (use a smaller --tile)"))
            bars.update(task, completed=done + 1)
        if writing is not None:
            _finish_write(writing, written, failed)
    return {
        "model": sr.name,
        "scale": scale,
        "tile": tile,
        "tile_pad": pad,
        "memory": memory,
        "engine": used,
        "engine_choice": choice,
        "load_seconds": load_seconds,
        "written": written,
        "skipped": skipped,
        "failed": failed,
        "seconds": time.perf_counter() - start,
    }
