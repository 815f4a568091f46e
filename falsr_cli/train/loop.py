"""`train(config)`: start or resume a run folder, train with validation and checkpoints, write the outputs.

Exact resume: the run restores model, optimizer and step from its last checkpoint, and the data pipeline
is a pure function of (seed, step), so batches k+1, k+2, … are those an uninterrupted run would see.
Records logged after that checkpoint by the interrupted process are dropped and written again.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli import __version__
from falsr_cli.atomic import append_jsonl, atomic_path, read_jsonl, write_json, write_text
from falsr_cli.cost.cost_model import training_bytes
from falsr_cli.errors import FalsrError
from falsr_cli.machine import available_memory
from falsr_cli.models.weights import load_weights
from falsr_cli.outputs import folder_lock
from falsr_cli.reporting import NoBar
from falsr_cli.space.architecture import Architecture, load_architecture
from falsr_cli.train.checkpoints import CheckpointManager, list_checkpoints
from falsr_cli.train.config import TrainConfig, learning_rate
from falsr_cli.train.pipeline import (
    PatchSampler,
    bicubic_psnr,
    load_luma_set,
    load_validation_set,
    make_upscaler,
    patch_note,
    validate_model,
)
from falsr_cli.train.runs import (
    ARCH,
    CHECKPOINTS,
    CONFIG,
    METRICS,
    MODEL,
    SUMMARY,
    TENSORBOARD,
    read_run_config,
    run_seconds,
)
from falsr_cli.train.tblog import EventLog

if TYPE_CHECKING:
    import keras

# A long run of a -res network whose validation PSNR is still within STALL_MARGIN_DB of bicubic at its
# first validation from STALL_STEP on has collapsed: its ReLUs died in the first steps (the evaluator study
# saw it in full training, band-5 with seed 1: 29.74 dB at step 1000, bicubic 29.68, healthy runs 31.4 and
# up, and it ended at 30.24 against 32.12 with seed 0). It starts again once, with --init lsuv.
STALL_STEP = 1000
STALL_MARGIN_DB = 0.2
STALL_MIN_STEPS = 4000  # shorter runs (tests, brief runs) may legitimately be near bicubic at step 1000
RESTART_INIT = "lsuv"


def stalled(step: int, val_psnr: float, bicubic: float) -> bool:
    """Whether a -res network validated at `step` has not left bicubic."""
    return step >= STALL_STEP and val_psnr < bicubic + STALL_MARGIN_DB


class _Restart(Exception):
    """The run collapsed and starts again from step 0 with `RESTART_INIT`."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record)
        self.record = record


def train(config: TrainConfig, on_event: Callable[[str, dict], None] | None = None,
          progress: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Train (or resume) the run `config.out`; return the summary (also written to summary.json).

    Nothing is printed: `on_event("note", {"message": …})` receives what the user should know (e.g. images
    left out), `on_event("log", record)` each metrics record, and `progress` (a factory like
    `falsr_cli.console.progress`, taking extra columns) draws the bar when given and `config.progress`.
    """
    run = _Run(config)
    with folder_lock(run.out, "training"):  # one process per run folder
        run.prepare()
        try:
            run.loop(on_event, progress if config.progress else None)
        except _Restart as restart:
            run.start_again(restart.record)
            run = _Run(config)
            run.prepare()
            run.loop(on_event, progress if config.progress else None)
        return run.finish()


def check_resume(out: Path, config: TrainConfig, arch: Architecture) -> dict[str, Any] | None:
    """The recorded extras of the run in `out` (None for a new run), after checking it matches `config`."""
    if not (out / CONFIG).exists():
        if config.resume:
            raise FalsrError(f"--resume: no training run in {out} (no {CONFIG})")
        if out.is_dir() and any(p for p in out.iterdir() if not p.name.startswith(".")):
            raise FalsrError(f"{out} exists and is not a training run; give an empty or new --out folder")
        return None
    old, extras = read_run_config(out)
    diffs = config.differences(old)
    if extras.get("arch_hash") not in (None, arch.hash()):
        diffs.insert(0, "arch")
    if diffs and not list_checkpoints(out / CHECKPOINTS):
        return None  # nothing trained to keep (e.g. it stopped on NaN before a checkpoint): start afresh
    if diffs and diffs[0] == "arch":
        raise FalsrError(
            f"{out} holds a run of another architecture (arch {extras['arch_hash']}, the command line gives "
            f"{arch.hash()}); use the run's --arch or another --out"
        )
    if diffs:
        f = diffs[0]
        raise FalsrError(
            f"{out} holds a run with {f} = {getattr(old, f)!r} but the command line gives "
            f"{getattr(config, f)!r}; use the run's options or another --out"
        )
    return extras


def _auto_precision_of(out: Path, devices: str) -> str:
    """`--precision auto`: a run's recorded precision (so a resume matches it on any machine), else the
    one this machine trains fastest in."""
    if (out / CONFIG).exists():
        try:
            return read_run_config(out)[0].precision
        except FalsrError:
            pass  # check_resume reports the unreadable config
    from falsr_cli.train.trainer import resolve_precision

    return resolve_precision("auto", devices)


def check_memory(arch: Architecture, batch: int, lr_patch: int, available: int | None = None) -> None:
    """Refuse a batch and patch whose training step cannot fit in memory, saying what it would need."""
    need = training_bytes(arch, batch, lr_patch)
    have = available_memory() if available is None else available
    if have is not None and need > have:
        fits = int(batch * have / need)
        if fits < 1:
            one = training_bytes(arch, 1, lr_patch) / 2**30
            raise FalsrError(
                f"patch {lr_patch * arch.scale} needs at least {one:.1f} GiB for one training step even at "
                f"--batch 1, more than the {have / 2**30:.1f} GiB available; use a smaller --patch"
            )
        raise FalsrError(
            f"batch {batch} at patch {lr_patch * arch.scale} needs at least {need / 2**30:.1f} GiB for one "
            f"training step, more than the {have / 2**30:.1f} GiB available; use --batch {fits} or less "
            "(or a smaller --patch)"
        )


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"falsr": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _truncate_metrics(path: Path, step: int) -> list[dict]:
    """Keep the records up to `step` (rewritten whole, which also drops a line torn by a kill)."""
    kept = [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step]
    if path.exists():
        write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def save_model_file(model: keras.Model, target: Path) -> None:
    """`model.save` atomically (Keras insists that the name end in `.keras`)."""
    with atomic_path(target, tail=".keras") as tmp:
        model.save(tmp)


class _Run:
    """One invocation of `train` on a run folder."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config.validate()
        if config.precision == "auto":
            config.precision = _auto_precision_of(Path(config.out), config.devices)
        arch = load_architecture(config.arch)
        self.arch = arch if arch.scale == config.scale else arch.with_scale(config.scale)
        self.out = Path(config.out)
        self.extras = check_resume(self.out, config, self.arch)
        self.notes: list[str] = []
        # A run that collapsed and started again keeps the init it started again with.
        self.restart: dict[str, Any] | None = (self.extras or {}).get("restart")
        self.init = self.restart["init"] if self.restart else config.init
        if self.restart:
            self.notes.append(
                f"the network had not left bicubic at step {self.restart['step']} "
                f"({self.restart['val_psnr']:.2f} dB, bicubic {self.restart['bicubic_psnr']:.2f}): its "
                f"ReLUs died in the first steps, so the run started again from step 0 with --init "
                f"{self.restart['init']}")
        # Only a long run of a -res network that starts at bicubic is watched, and only once.
        self.watch = (self.restart is None and config.val is not None and self.arch.residual
                      and config.init in ("he-zero", "he") and config.steps >= STALL_MIN_STEPS)

    # ---- setting up -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        from falsr_cli.train.trainer import Trainer, WarmupSchedule, configure_determinism, make_strategy

        c = self.config
        check_memory(self.arch, c.batch, c.lr_patch)
        images = load_luma_set(c.data, c.scale, c.data_dir, downscales=c.scale_aug)
        self.val = load_validation_set(c.val, c.scale, c.data_dir) if c.val else None
        fingerprint = images.fingerprint()
        if self.extras and self.extras.get("data_fingerprint") not in (None, fingerprint):
            self.notes.append("the training images changed since the run started: the resume is not exact")
        configure_determinism(c.deterministic)
        self.sampler = PatchSampler(images, batch=c.batch, patch=c.patch, seed=c.seed, augment=c.augment)
        note = patch_note(self.sampler.dropped, self.sampler.total, c.patch)
        if note:
            self.notes.append(note)
        self.trainer = Trainer(self.arch, batch=c.batch, patch=c.patch,
                               lr=WarmupSchedule.from_config_of_run(c), beta1=c.beta1, beta2=c.beta2,
                               precision=c.precision, jit=c.jit, seed=c.seed,
                               strategy=make_strategy(c.devices), init=self.init, reparam=c.reparam)
        self.out.mkdir(parents=True, exist_ok=True)
        self.manager = CheckpointManager(self.out / CHECKPOINTS, self.trainer.checkpoint(), keep=c.keep)
        self.manager.clean_partial()
        self._restore_intact()
        self.start = int(self.trainer.step.numpy())
        if self.start == 0 and self.init == "lsuv":  # a resumed run has its weights from the checkpoint
            self.trainer.init_from_data(self.sampler.batch_at(0)[0])
        if self.start > c.steps:
            raise FalsrError(f"steps: the run in {self.out} is already at step {self.start}, past {c.steps}")

        record = {**c.to_dict(), "resume": False, "arch_hash": self.arch.hash(),
                  "architecture": self.arch.to_text(), "data_fingerprint": fingerprint,
                  "data_images": len(images), "versions": _versions(),
                  "created": (self.extras or {}).get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if self.restart:
            record["restart"] = self.restart
        self.config_record = record
        write_json(self.out / CONFIG, record)
        self.arch.save(self.out / ARCH)
        self.metrics = self.out / METRICS
        validated = [r for r in _truncate_metrics(self.metrics, self.start) if "val_psnr" in r]
        self.last_val = ({"step": validated[-1]["step"], "psnr": validated[-1]["val_psnr"],
                          "ssim": validated[-1]["val_ssim"]} if validated else None)
        best = self.manager.best()
        self.best_psnr = best.val_psnr if best is not None else None
        self.upscaler = make_upscaler(self.trainer.model, c.scale) if self.val is not None else None
        self.events = EventLog(self.out / TENSORBOARD)
        self.last_loss = float("nan")

    def _restore_intact(self) -> None:
        """Restore the newest checkpoint that reads whole: a damaged one (a disk fault, a copy cut short)
        gives way to the one before, with a note; if none reads, one line names the newest."""
        found = self.manager.list()
        for info in reversed(found):
            try:
                self.manager.restore(info)
            except FalsrError as e:
                self.notes.append(f"{e}; it is passed over")
                continue
            if info is not found[-1]:
                self.notes.append(f"resumed from the intact checkpoint {info.path} (step {info.step})")
            return
        if found:
            raise FalsrError(f"no checkpoint in {self.manager.directory} can be read (the newest: "
                             f"{found[-1].path}); move the damaged ones away to start again")

    # ---- the loop -------------------------------------------------------------------------------------

    def loop(self, on_event: Callable[[str, dict], None] | None, progress: Callable[..., Any] | None) -> None:
        c = self.config
        for note in self.notes:
            if on_event:
                on_event("note", {"message": note})
        pending: list[Any] = []  # loss tensors not read yet: reading each step would sync every step
        step = self.start
        self.t_start = clock = time.perf_counter()
        clock_step = step
        with progress(loss="loss {task.fields[loss]}", psnr="val {task.fields[psnr]}",
                      rate="{task.fields[rate]} step/s") if progress else NoBar() as bar:
            psnr = f"{self.last_val['psnr']:.3f} dB" if self.last_val else "-"
            task = bar.add_task("train", total=c.steps, completed=step, loss="-", psnr=psnr, rate="-")
            for lr_batch, hr_batch in self.sampler.dataset(self.start, c.steps):
                pending.append(self.trainer.train_step(lr_batch, hr_batch))
                step += 1
                bar.update(task, advance=1)
                do_val = self.val is not None and (step % c.val_every == 0 or step == c.steps)
                do_ckpt = step % c.ckpt_every == 0 or step == c.steps
                if not (do_val or do_ckpt or step % c.log_every == 0):
                    continue
                losses = self._read_losses(pending, step)
                rate = (step - clock_step) / max(time.perf_counter() - clock, 1e-9)
                self.last_loss = float(np.mean(losses))
                rec: dict[str, Any] = {"step": step, "loss": self.last_loss, "lr": learning_rate(c, step - 1),
                                       "steps_per_s": rate}
                images = self._validate(rec) if do_val else []
                self._log(rec, images)
                if do_val and self.watch and step >= STALL_STEP:
                    self._check_stall(rec)
                bar.update(task, loss=f"{self.last_loss:.5f}", rate=f"{rate:.2f}",
                           psnr=f"{self.last_val['psnr']:.3f} dB" if self.last_val else "-")
                if on_event:
                    on_event("log", rec)
                improved = do_val and (self.best_psnr is None or rec["val_psnr"] > self.best_psnr)
                if improved:
                    self.best_psnr = rec["val_psnr"]
                if do_ckpt or improved:
                    meta = {k: rec[k] for k in ("loss", "lr", "val_psnr", "val_ssim") if k in rec}
                    self.manager.save(step, {**meta, "time": time.time()})
                    self.manager.prune()
                # Validation and checkpoints are not training: the rate clock restarts after them.
                clock, clock_step = time.perf_counter(), step
        self.events.close()
        self.train_seconds = time.perf_counter() - self.t_start

    def _check_stall(self, rec: dict[str, Any]) -> None:
        """At the first validation from STALL_STEP on: start again if the network has not left bicubic."""
        self.watch = False
        assert self.val is not None
        bicubic = bicubic_psnr(self.val)
        if stalled(rec["step"], rec["val_psnr"], bicubic):
            self.events.close()
            raise _Restart({"step": rec["step"], "val_psnr": rec["val_psnr"], "bicubic_psnr": bicubic,
                            "init": RESTART_INIT})

    def start_again(self, restart: dict[str, Any]) -> None:
        """Drop the collapsed attempt (its checkpoints; its metrics kept aside) and record the restart.

        In this order, so a kill at any point resumes correctly: without the record the collapsed
        attempt is simply run again (it is deterministic) and restarts at the same step.
        """
        self.manager.clear()
        if self.metrics.exists():
            self.metrics.replace(self.out / f"collapsed-{METRICS}")
        write_json(self.out / CONFIG, {**self.config_record, "restart": restart})

    def _read_losses(self, pending: list[Any], step: int) -> list[float]:
        """The pending losses as floats; a NaN or inf stops the run before anything more is saved."""
        losses = [float(x) for x in pending]
        pending.clear()
        bad = [i for i, v in enumerate(losses) if not np.isfinite(v)]
        if bad:
            at = step - len(losses) + bad[0] + 1
            good = self.manager.latest()
            kept = (f"the last good checkpoint is {good.path} (step {good.step})" if good
                    else "no checkpoint had been written yet")
            raise FalsrError(
                f"loss became {losses[bad[0]]} at step {at} (learning rate "
                f"{learning_rate(self.config, at - 1):.3g}); training stopped, {kept}; "
                f"try a lower --lr or a --warmup"
            )
        return losses

    def _validate(self, rec: dict[str, Any]) -> list:
        t = time.perf_counter()
        psnr, ssim, images = validate_model(self.trainer.model, self.val, keep_images=self.config.val_images,
                                            upscaler=self.upscaler)
        rec.update(val_psnr=psnr, val_ssim=ssim, val_seconds=time.perf_counter() - t)
        self.last_val = {"step": rec["step"], "psnr": psnr, "ssim": ssim}
        return images

    def _log(self, rec: dict[str, Any], images: list) -> None:
        step = rec["step"]
        self.events.scalar("train/loss", rec["loss"], step)
        self.events.scalar("train/lr", rec["lr"], step)
        self.events.scalar("train/steps_per_s", rec["steps_per_s"], step)
        if "val_psnr" in rec:
            self.events.scalar("val/psnr", rec["val_psnr"], step)
            self.events.scalar("val/ssim", rec["val_ssim"], step)
            for name, sr in images:
                self.events.image(f"val/{name}", sr, step)
        self.events.flush()
        append_jsonl(self.metrics, rec)

    # ---- the outputs ----------------------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        from falsr_cli.models.builder import fold_reparam
        from falsr_cli.train.trainer import build_model

        c = self.config
        # The deliverable: the best checkpoint's weights when validated, else the last.
        found = self.manager.list()
        best = self.manager.best()
        model = self.trainer.model
        final = None
        # The best checkpoint's weights, else the newest that reads whole (a damaged one is passed over).
        for info in ([best] if best else []) + list(reversed(found)):
            if info.step == int(self.trainer.step.numpy()):
                final = info
                break
            try:
                load_weights(model, info.prefix, "the run's architecture")
            except FalsrError as e:
                self.notes.append(f"{e}; it is passed over")
                continue
            final = info
            break
        if c.reparam:
            model = fold_reparam(model, self.arch)
        elif c.precision != "float32" or self.trainer.replicas > 1:
            # Ship a plain float32 single-device model (mixed-precision variables are float32 too).
            export = build_model(self.arch, "float32")
            export.set_weights(model.get_weights())
            model = export
        save_model_file(model, self.out / MODEL)

        best, latest = self.manager.best(), self.manager.latest()
        ran = c.steps - self.start
        records = read_jsonl(self.metrics)
        summary = {
            "out": str(self.out),
            "arch": c.arch,
            "arch_hash": self.arch.hash(),
            "steps": c.steps,
            "resumed_from": self.start if self.extras is not None else None,
            "steps_this_run": ran,
            "train_seconds": self.train_seconds,
            "run_seconds": run_seconds(records),  # every process that trained this run
            "steps_per_s": ran / self.train_seconds if ran else None,
            "final_loss": records[-1]["loss"] if records else None,
            "last_val": self.last_val,
            "best": ({"step": best.step, "psnr": best.val_psnr, "ssim": best.meta.get("val_ssim"),
                      "checkpoint": str(best.path)} if best else None),
            "last_checkpoint": str(latest.path) if latest else None,
            "model": str(self.out / MODEL),
            "weights_from_step": final.step if final else None,
            "devices": self.trainer.replicas,
            "precision": c.precision,
            "restart": self.restart,
            "notes": self.notes,
        }
        write_json(self.out / SUMMARY, summary)
        return summary
