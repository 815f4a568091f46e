"""A training run folder: its layout, reading trained weights back (`load_trained_model`), its summary.

`train` (falsr_cli.train.loop) writes it.

Layout of `--out`:
  config.json         the TrainConfig plus what was resolved (architecture hash, data fingerprint, versions)
  arch.json           the architecture
  checkpoints/        step_NNNNNNNNN/ folders: model, optimizer and step (last K and the best by val PSNR)
  metrics.jsonl       one line per log interval: step, loss, lr, steps/s, and val PSNR/SSIM when validated
  tensorboard/        scalars and a few validation images
  model.keras         final weights (best checkpoint if validated, else last) as a complete Keras model
  summary.json        the end-of-run summary
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from falsr_cli.errors import FalsrError
from falsr_cli.models.weights import load_weights
from falsr_cli.space.architecture import load_architecture
from falsr_cli.train.checkpoints import (
    CheckpointInfo,
    best_checkpoint,
    list_checkpoints,
    read_checkpoint_info,
)
from falsr_cli.train.config import TrainConfig

CONFIG = "config.json"
ARCH = "arch.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
MODEL = "model.keras"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
# Not options: what `train` resolved and recorded next to the options in config.json.
_RECORDED = ("arch_hash", "architecture", "data_fingerprint", "data_images", "versions", "created", "restart")


def is_run_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / ARCH).is_file() and (p / CONFIG).is_file()


def find_run_dir(path: str | os.PathLike) -> Path | None:
    """The run folder holding `path` (itself, or up to three levels above a checkpoint file)."""
    p = Path(path).resolve()
    for candidate in [p, *list(p.parents)[:3]]:
        if is_run_dir(candidate):
            return candidate
    return None


def read_run_config(run: str | os.PathLike) -> tuple[TrainConfig, dict[str, Any]]:
    """The run's TrainConfig and its recorded extras (arch hash, data fingerprint, …)."""
    path = Path(run) / CONFIG
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FalsrError(f"{path}: cannot read the run's configuration ({e})") from None
    if not isinstance(d, dict):
        raise FalsrError(f"{path}: not a training configuration")
    extras = {k: d.pop(k) for k in list(d) if k in _RECORDED}
    return TrainConfig.from_dict(d), extras


# ---- reading a run back -----------------------------------------------------------------------------


def load_trained_model(path: str | os.PathLike) -> tuple[Any, Any]:
    """(Architecture, keras.Model) from a run folder (best checkpoint, else last, else model.keras),
    a checkpoint folder or file in it, or a `.keras` / `.weights.h5` file in it."""
    from falsr_cli.models.builder import fold_reparam
    from falsr_cli.train.trainer import build_model

    p = Path(path)
    if not p.exists() and not Path(str(p) + ".index").exists():
        raise FalsrError(f"no such training run or checkpoint: {p}")
    run = find_run_dir(p if p.exists() else p.parent)
    if run is None:
        raise FalsrError(f"{p}: not a training run or a file in one (no {ARCH} and {CONFIG} found)")
    arch = load_architecture(str(run / ARCH))
    name = p.name
    if p.is_file() and (name.endswith(".keras") or name.endswith(".weights.h5")):
        model = build_model(arch, "float32")
        load_weights(model, str(p), f"the architecture of {run}")
        return arch, model
    # A re-parameterised run's checkpoints hold the branches: restore them, then merge (model.keras is plain).
    reparam = read_run_config(run)[0].reparam
    model = build_model(arch, "float32", reparam=reparam)

    info: CheckpointInfo | None = None
    prefix: str | None = None
    if p.is_dir():
        if p.resolve() in (run, run / CHECKPOINTS):
            found = list_checkpoints(run / CHECKPOINTS)
            info = best_checkpoint(found) or (found[-1] if found else None)
            if info is None:
                if (run / MODEL).is_file():
                    return load_trained_model(run / MODEL)
                raise FalsrError(f"{run}: the run has no checkpoint yet")
        else:
            info = read_checkpoint_info(p)
            if info is None:
                raise FalsrError(f"{p}: not a complete checkpoint folder")
        prefix = info.prefix
    else:
        # ckpt.index, ckpt.data-00000-of-00001, or the bare prefix `…/ckpt`.
        base = name.split(".")[0]
        prefix = str(p.parent / base)
        if not Path(prefix + ".index").is_file():
            raise FalsrError(f"{p}: not a checkpoint (no {prefix}.index)")
    load_weights(model, prefix, f"the architecture of {run}")
    if reparam:
        model = fold_reparam(model, arch)
    return arch, model


# ---- the end-of-run summary -------------------------------------------------------------------------


def run_seconds(records: list[dict]) -> float:
    """Seconds the whole run spent training and validating, over every process that worked on it, from its
    metrics: each record's steps since the one before over its rate, plus its validation time.

    A summary only knows its own process; this survives resumes and re-invocations of a finished run.
    """
    total, last = 0.0, 0
    for r in records:
        step, rate = int(r.get("step", last)), r.get("steps_per_s")
        if rate and step > last:
            total += (step - last) / float(rate)
        total += float(r.get("val_seconds") or 0.0)
        last = step
    return total
