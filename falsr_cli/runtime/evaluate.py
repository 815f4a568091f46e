"""Evaluation: run an upscaler over LR/HR pairs, score by the paper's protocol, time it, save SR images.

`evaluate_model` is the general entry point (any model, one data set); `calculate` is the original FALSR
repository's command (one frozen graph, several data sets, images and metrics.json under a save folder).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from falsr_cli.atomic import write_json
from falsr_cli.data import registry
from falsr_cli.data.images import is_falsr_image, write_image
from falsr_cli.data.metrics import score
from falsr_cli.data.pairs import dataset_folder, load_pairs, resolve_folder
from falsr_cli.errors import FalsrError
from falsr_cli.models.network import SRNet
from falsr_cli.outputs import claim_folder, claim_output, json_kind
from falsr_cli.reporting import BarFactory, ByteReport, bar
from falsr_cli.runtime.open import open_model
from falsr_cli.runtime.zoo import find_model, resolve_model_spec

METRICS_FILE = "metrics.json"


def sr_filename(name: str, scale: int) -> str:
    """`img_001` → `img_001_SRF_2_SR.png`, the original repository's naming."""
    return f"{name}_SRF_{scale}_SR.png"


def _dataset_label(spec: str | os.PathLike) -> str:
    """A registered data set's canonical name, or a folder's own name."""
    entry = registry.find_dataset(str(spec))
    if entry is not None:
        return entry.name
    return Path(spec).resolve().name or str(spec)


def run_pairs(
    upscaler: SRNet,
    pairs: Sequence[Any],
    *,
    scale: int,
    save_dir: str | os.PathLike | None = None,
    progress: BarFactory | None = None,
    description: str = "",
    overwrite: bool = False,
    sealed: Sequence[str | os.PathLike] = (),
    flag: str = "--save",
) -> list[dict[str, Any]]:
    """Upscale and score every pair, one image at a time (sizes differ); per-image rows.

    With `save_dir`, an SR file already there is replaced only with `overwrite` and only when falsr wrote
    it; nothing is written into a `sealed` (data set) folder — all checked before any work.
    """
    if save_dir is not None:
        # Two inputs that would write one SR file (ok.bmp and ok.webp): refused before any work.
        seen: dict[str, str] = {}
        for pair in pairs:
            name = sr_filename(pair.name, scale)
            if name in seen:
                raise FalsrError(f"{flag}: two images of this data set are named {pair.name} (e.g. .bmp and "
                                 f".webp) and would both be saved as {name}; rename one")
            seen[name] = pair.name
            claim_output(Path(save_dir) / name, overwrite=overwrite, same_kind=is_falsr_image, flag=flag,
                         sealed=sealed)
    rows = []
    with bar(progress, transient=True) as bars:
        task = bars.add_task(description or upscaler.name, total=len(pairs))
        for pair in pairs:
            expected = (pair.lr.shape[0] * scale, pair.lr.shape[1] * scale)
            if pair.hr.shape[:2] != expected:
                raise FalsrError(
                    f"{pair.name}: HR is {pair.hr.shape[1]}x{pair.hr.shape[0]} but LR is "
                    f"{pair.lr.shape[1]}x{pair.lr.shape[0]} (expected exactly x{scale})"
                )
            start = time.perf_counter()
            sr = upscaler.upscale(pair.lr)
            seconds = time.perf_counter() - start
            psnr, ssim = score(sr, pair.hr, scale)
            if save_dir is not None:
                write_image(Path(save_dir) / sr_filename(pair.name, scale), sr)
            row = {"name": pair.name, "psnr": psnr, "ssim": ssim, "seconds": seconds, "note": pair.note}
            rows.append(row)
            bars.advance(task)
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Averages and timing of per-image rows."""
    model_seconds = float(sum(r["seconds"] for r in rows))
    return {
        "images": len(rows),
        "psnr": float(np.mean([r["psnr"] for r in rows])) if rows else math.nan,
        "ssim": float(np.mean([r["ssim"] for r in rows])) if rows else math.nan,
        "model_seconds": model_seconds,
        "images_per_second": len(rows) / model_seconds if model_seconds > 0 else math.nan,
        "notes": [f"{r['name']}: {r['note']}" for r in rows if r.get("note")],
    }


def evaluate_model(
    model: str | os.PathLike | SRNet,
    dataset: str | os.PathLike,
    *,
    scale: int = 2,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    save_dir: str | os.PathLike | None = None,
    per_image: bool = False,
    progress: BarFactory | None = None,
    overwrite: bool = False,
    engine: str = "tf",
    on_download: ByteReport | None = None,
) -> dict[str, Any]:
    """Score a model (spec or SRNet) on a data set (name or folder); `engine` runs a spec in TensorFlow,
    XNNPACK or the faster of the two for this host (`auto`, see models/engine.py).

    Returns model, dataset, scale, images, psnr, ssim (averages), model_seconds (upscaling only),
    images_per_second (of the model), total_seconds (wall time incl. loading and scoring), notes (converted
    inputs) and, with `per_image`, rows {name, psnr, ssim, seconds, note}. SR images go to `save_dir`
    (existing ones are replaced only with `overwrite`). `progress` (a factory like console.progress) draws
    the images' bar, `on_download` follows a data set being fetched.
    """
    start = time.perf_counter()
    sealed = [dataset_folder(dataset, data_dir)]
    if save_dir is not None:  # before the model is loaded or anything is fetched
        model_paths = [model] if isinstance(model, str | os.PathLike) and os.path.exists(model) else []
        claim_folder(save_dir, inputs=model_paths, sealed=sealed, flag="--save")
    spec = isinstance(model, str | os.PathLike) and str(model).lower() != "bicubic"
    upscaler = model if isinstance(model, SRNet) else open_model(model, scale=scale, engine=engine,
                                                                  on_download=on_download, data_dir=data_dir)
    pairs = load_pairs(dataset, scale=scale, data_dir=data_dir, download=download, on_download=on_download)
    label = _dataset_label(dataset)
    rows = run_pairs(upscaler, pairs, scale=scale, save_dir=save_dir, progress=progress,
                     description=f"{upscaler.name} on {label}", overwrite=overwrite, sealed=sealed)
    result: dict[str, Any] = {"model": upscaler.name, "dataset": label, "scale": scale,
                              "engine": upscaler.engine if spec else None}
    result.update(summarize(rows))
    result["total_seconds"] = time.perf_counter() - start
    if save_dir is not None:
        result["save_dir"] = str(save_dir)
    if per_image:
        result["per_image"] = rows
    return result


def default_datasets(data_dir: str | os.PathLike | None = None, scale: int = 2) -> list[str]:
    """Every registered ×`scale` benchmark already present locally, plus the built-in `samples`."""
    names = [
        name
        for name in registry.benchmark_names()
        if registry.get_dataset(name).scale == scale and registry.is_present(name, data_dir=data_dir)
    ]
    return names + [registry.SAMPLES]


def _read_previous(path: Path) -> dict[str, Any]:
    """An earlier metrics.json to merge into; an unreadable one is kept aside, never overwritten blindly."""
    if not path.is_file():
        return {}
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(previous, dict) and isinstance(previous.get("datasets"), dict):
            return previous
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    backup = path.with_name(f"{path.name}.bad-{int(time.time())}")
    os.replace(path, backup)
    return {}


def jsonable(obj: Any) -> Any:
    """Floats that JSON cannot hold (inf PSNR of identical images, nan) become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


def calculate(
    pb_path: str | os.PathLike,
    save_path: str | os.PathLike,
    datasets: Sequence[str] | None = None,
    *,
    scale: int = 2,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress: BarFactory | None = None,
    on_download: ByteReport | None = None,
) -> dict[str, Any]:
    """The original `calculate.py`: run a FALSR-interface graph over data sets, save SR images and metrics.

    Images go to `<save_path>/<pb stem>/<dataset>/img_NNN_SRF_2_SR.png`; per-data-set averages and
    per-image figures to `<save_path>/<pb stem>/metrics.json`, merged with data sets of earlier runs and
    rewritten after each data set completes (a failing run never loses what was saved).
    """
    start = time.perf_counter()
    names = list(datasets) if datasets else default_datasets(data_dir, scale)
    # Outputs first: nothing is written into a data set folder, the graph or beside it as an SR image.
    sealed = [dataset_folder(name, data_dir) for name in names]
    named = None if os.path.exists(pb_path) else find_model(str(pb_path), data_dir)
    stem = (named.path if named is not None else Path(pb_path)).stem
    pb_inputs = [pb_path] if os.path.exists(pb_path) else []
    claim_folder(Path(save_path) / stem, inputs=pb_inputs, sealed=sealed, flag="--save_path")
    claim_output(Path(save_path) / stem / METRICS_FILE, overwrite=True, same_kind=json_kind("datasets"),
                 inputs=pb_inputs, sealed=sealed, flag="--save_path")
    pb_path = Path(resolve_model_spec(str(pb_path), data_dir, download=download, on_download=on_download))
    upscaler = open_model(pb_path, scale=scale)
    # Resolve (and fetch) every data set before writing anything, so a bad name fails first.
    folders: dict[str, Path] = {}
    for name in names:
        label = _dataset_label(name)
        folder = resolve_folder(name, data_dir=data_dir, download=download, on_download=on_download)
        if label in folders and folders[label].resolve() != folder.resolve():
            raise FalsrError(f"two data sets would be saved as {label!r}: {folders[label]} and {folder}")
        folders[label] = folder
    out_dir = Path(save_path) / pb_path.stem
    metrics_path = out_dir / METRICS_FILE
    summary: dict[str, Any] = {"model": pb_path.stem, "pb_path": str(pb_path), "scale": scale,
                               "save_dir": str(out_dir), "datasets": {}}
    for label, folder in folders.items():
        pairs = load_pairs(folder, scale=scale, data_dir=data_dir, download=download)
        # As the original calculate.py, a re-run refreshes its own SR images in <save_path>/<pb>/<set>/
        # (names of the protocol, nothing else is replaced).
        rows = run_pairs(upscaler, pairs, scale=scale, save_dir=out_dir / label, progress=progress,
                         description=f"{pb_path.stem} on {label}", overwrite=True, sealed=sealed,
                         flag="--save_path")
        entry = summarize(rows)
        entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        entry["per_image"] = rows
        summary["datasets"][label] = entry
        merged = _read_previous(metrics_path)
        merged.update({k: v for k, v in summary.items() if k != "datasets"})
        merged.setdefault("datasets", {})[label] = entry
        write_json(metrics_path, jsonable(merged))
    summary["metrics_path"] = str(metrics_path)
    summary["total_seconds"] = time.perf_counter() - start
    return summary


# ---- presentation (rich tables for the CLI) ---------------------------------------------------------
