"""Brief training for the search: train a candidate for a few steps in memory, then score it.

`train_and_validate` is called thousands of times in one process, so everything that does not depend on
the candidate is made once and cached: decoded training and validation images, their packed tensors and
the patch datasets. Per candidate there is one trace of the train step and one of the predict function.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import Architecture, load_architecture
from falsr_cli.train.checkpoints import CheckpointManager
from falsr_cli.train.config import TrainConfig
from falsr_cli.train.loop import RESTART_INIT, STALL_MARGIN_DB
from falsr_cli.train.pipeline import (
    PatchSampler,
    bicubic_psnr,
    load_luma_set,
    load_validation_set,
    make_upscaler,
    validate_model,
)

# Decoded images by (spec, scale, data_dir); patch datasets by their full recipe (a few, least recent out).
_IMAGES: dict[tuple, Any] = {}
_VALSETS: dict[tuple, Any] = {}
_BICUBIC: dict[tuple, float] = {}
_DATASETS: OrderedDict[tuple, Any] = OrderedDict()
_MAX_DATASETS = 8
# Losses are read back this often, so a diverging candidate stops early without a sync every step.
_CHECK_EVERY = 25


class CandidateFailed(FalsrError):
    """A candidate could not be trained (e.g. its loss became NaN); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key_dir(data_dir: str | os.PathLike | None) -> str | None:
    return None if data_dir is None else os.fspath(data_dir)


def training_images(data: str, scale: int, data_dir: str | os.PathLike | None = None) -> Any:
    """The LumaSet of `data`, decoded once per process."""
    key = (str(data), int(scale), _key_dir(data_dir))
    if key not in _IMAGES:
        _IMAGES[key] = load_luma_set(data, scale, data_dir)
    return _IMAGES[key]


def validation_set(val: str, scale: int, data_dir: str | os.PathLike | None = None) -> Any:
    """The ValidationSet of `val`, decoded once per process."""
    key = (str(val), int(scale), _key_dir(data_dir))
    if key not in _VALSETS:
        _VALSETS[key] = load_validation_set(val, scale, data_dir)
    return _VALSETS[key]


def bicubic_of(val: str, scale: int, data_dir: str | os.PathLike | None = None) -> float:
    """Bicubic's PSNR on `val`, where a -res network starts, computed once per process."""
    key = (str(val), int(scale), _key_dir(data_dir))
    if key not in _BICUBIC:
        _BICUBIC[key] = bicubic_psnr(validation_set(val, scale, data_dir))
    return _BICUBIC[key]


def _dataset(data: str, scale: int, data_dir: Any, batch: int, patch: int, seed: int, start: int,
             steps: int) -> Any:
    key = (str(data), int(scale), _key_dir(data_dir), batch, patch, seed, start, steps)
    if key in _DATASETS:
        _DATASETS.move_to_end(key)
        return _DATASETS[key]
    sampler = PatchSampler(training_images(data, scale, data_dir), batch=batch, patch=patch, seed=seed)
    ds = sampler.dataset(start, steps)
    _DATASETS[key] = ds
    while len(_DATASETS) > _MAX_DATASETS:
        _DATASETS.popitem(last=False)
    return ds


def clear_cache() -> None:
    """Forget cached images and datasets (e.g. after the data folder changed)."""
    _IMAGES.clear()
    _VALSETS.clear()
    _BICUBIC.clear()
    _DATASETS.clear()


def train_and_validate(arch: Architecture, *, data: str, val: str, steps: int, seed: int, batch: int = 16,
                       patch: int = 64, lr: float = 1e-3, schedule: str = "cosine", init: str = "he-zero",
                       data_dir: str | os.PathLike | None = None, engine: str = "tf",
                       precision: str = "auto", val_at: Sequence[int] = (),
                       keep_losses: bool = False, warmup: int | None = None,
                       horizon: int | None = None, restart: bool = False,
                       checkpoint_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train `arch` from scratch for `steps` steps (Adam, L1) and score it on `val`.

    The learning rate is `falsr train`'s recipe: a warm-up of `warmup` steps (None: a tenth of the steps,
    at most 100) to `lr`, then `schedule` (cosine to 0 over the rest, or constant). With `horizon`, the
    schedule is that of a `horizon`-step run, of which the first `steps` are trained: `falsr train
    --steps horizon` stopped early, which ranks networks as the whole run does far better than a short
    run whose rate decays to 0 (benchmarks/evaluator_fidelity.py).

    `precision` is `falsr train`'s (auto: the fastest this machine trains as well in, see auto_precision).
    `engine` scores the validation images in TensorFlow or XNNPACK (models/engine.py).
    Returns psnr, ssim (means over `val` by the paper's protocol), loss (mean of the last tenth of the
    steps), loss_sum (of every step's loss), train_seconds, eval_seconds and steps; with `val_at` (steps
    before the last) also `curve`, the (step, psnr) of a validation after each of those steps as well as
    the last; with `keep_losses`, `losses`, every step's loss. The same arguments give the same numbers.
    Raises CandidateFailed when the loss stops being finite.

    With `restart`, a -res network that ends within STALL_MARGIN_DB of bicubic (its ReLUs died in the first
    steps: a failure of the init's scale, not of the architecture) is trained again, once, with
    `--init lsuv`, as `falsr train` does; the result is the second run's, with `restart` (the first run's
    psnr and init) and both runs' seconds.

    With `checkpoint_dir`, the run continues from the latest checkpoint there of at most `steps` steps
    (model, optimizer and step; a run started with the same arguments and fewer steps) and leaves its own
    final state there, the only one kept. With a `horizon` this gives the same weights as training from
    scratch, at the cost of the new steps only: successive halving's rungs continue each other. The
    result then has `continued_from` (the steps restored; 0 when it started from scratch), and its losses
    and seconds cover only the new steps.
    """
    if not isinstance(arch, Architecture):
        arch = load_architecture(arch)
    args = dict(data=data, val=val, steps=steps, seed=seed, batch=batch, patch=patch, lr=lr,
                schedule=schedule, data_dir=data_dir, engine=engine, precision=precision, val_at=val_at,
                keep_losses=keep_losses, warmup=warmup, horizon=horizon, checkpoint_dir=checkpoint_dir)
    first = _train_once(arch, init=init, resume=True, **args)
    # A continued run's init was settled (and restarted if need be) by the run it continues.
    if first.get("continued_from") or not (
            restart and arch.residual and init != RESTART_INIT
            and first["psnr"] < bicubic_of(val, arch.scale, data_dir) + STALL_MARGIN_DB):
        return first
    again = _train_once(arch, init=RESTART_INIT, resume=False, **args)
    again["restart"] = {"psnr": first["psnr"], "init": init}
    again["train_seconds"] += first["train_seconds"]
    again["eval_seconds"] += first["eval_seconds"]
    return again


def _train_once(arch: Architecture, *, data: str, val: str, steps: int, seed: int, batch: int, patch: int,
                lr: float, schedule: str, init: str, data_dir: str | os.PathLike | None, engine: str,
                precision: str, val_at: Sequence[int], keep_losses: bool,
                warmup: int | None, horizon: int | None, checkpoint_dir: str | os.PathLike | None,
                resume: bool) -> dict[str, Any]:
    from falsr_cli.train.trainer import Trainer, WarmupSchedule, configure_determinism

    if steps < 1:
        raise FalsrError(f"steps: must be a positive integer, got {steps}")
    if horizon is not None and horizon < steps:
        raise FalsrError(f"horizon: the schedule ({horizon} steps) is shorter than the training ({steps})")
    if patch % arch.scale:
        raise FalsrError(f"patch: {patch} is not a multiple of the scale {arch.scale}")
    configure_determinism(True)
    valset = validation_set(val, arch.scale, data_dir)
    rate = TrainConfig(arch="-", steps=int(horizon or steps), lr=float(lr), schedule=schedule,
                       batch=int(batch), scale=arch.scale, patch=int(patch), warmup=warmup).validate()
    trainer = Trainer(arch, batch=int(batch), patch=int(patch), lr=WarmupSchedule.from_config_of_run(rate),
                      seed=int(seed), init=init, precision=precision)
    saved = CheckpointManager(checkpoint_dir, trainer.checkpoint(), keep=1) if checkpoint_dir else None
    # Only a run of the same recipe continues: its schedule (horizon), data order and precision.
    recipe = {"seed": int(seed), "batch": int(batch), "patch": int(patch), "lr": float(lr),
              "schedule": schedule, "warmup": warmup, "horizon": horizon, "data": str(data),
              "data_dir": _key_dir(data_dir), "precision": trainer.precision}
    earlier = [c for c in saved.list() if c.step <= steps and c.meta.get("recipe") == recipe] \
        if saved is not None and resume else []
    if earlier:
        saved.restore(earlier[-1])
        init = str(earlier[-1].meta.get("init", init))
    start = int(trainer.step.numpy())
    ds = _dataset(data, arch.scale, data_dir, int(batch), int(patch), int(seed), start, int(steps))
    if init == "lsuv" and not start:
        trainer.init_from_data(next(iter(ds))[0])

    upscaler = make_upscaler(trainer.model, arch.scale, engine)
    checkpoints = sorted({int(s) for s in val_at if start < int(s) < steps})
    curve: list[tuple[int, float]] = []
    losses: list[float] = []
    pending: list[Any] = []
    train_seconds = eval_seconds = 0.0
    t0 = time.perf_counter()
    for lr_batch, hr_batch in ds:
        pending.append(trainer.train_step(lr_batch, hr_batch))
        done = start + len(losses) + len(pending)
        if len(pending) >= _CHECK_EVERY or done in checkpoints:
            _collect(pending, losses)
        if done in checkpoints:  # validation time is not training time
            train_seconds += time.perf_counter() - t0
            t1 = time.perf_counter()
            curve.append((done, validate_model(trainer.model, valset, upscaler=upscaler)[0]))
            eval_seconds += time.perf_counter() - t1
            t0 = time.perf_counter()
    _collect(pending, losses)
    train_seconds += time.perf_counter() - t0

    t1 = time.perf_counter()
    psnr, ssim, _ = validate_model(trainer.model, valset, upscaler=upscaler)
    eval_seconds += time.perf_counter() - t1
    if not np.isfinite(ssim):
        raise CandidateFailed("validation SSIM is not finite")
    tail = losses[-max(1, len(losses) // 10):]
    out = {"psnr": psnr, "ssim": ssim, "loss": float(np.mean(tail)) if tail else None,
           "loss_sum": float(np.sum(losses)), "train_seconds": train_seconds, "eval_seconds": eval_seconds,
           "steps": int(steps)}
    if checkpoints:
        out["curve"] = [*curve, (int(steps), psnr)]
    if saved is not None:
        saved.save(steps, {"init": init, "psnr": psnr, "recipe": recipe})
        saved.prune()
        out["continued_from"] = start
    if keep_losses:
        out["losses"] = losses
    return out


def _collect(pending: list[Any], losses: list[float]) -> None:
    """Move pending loss tensors into `losses`; raise CandidateFailed at the first non-finite one."""
    for t in pending:
        v = float(t)
        losses.append(v)
        if not np.isfinite(v):
            raise CandidateFailed(f"loss became {v} at step {len(losses)}")
    pending.clear()
