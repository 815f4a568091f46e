"""Does a last stage with the L2 loss pay? Fine-tune a finished run's best weights for a few steps with L1 or
L2 (issue 22's moonshot levers; the NTIRE efficient-SR winners end with an L2 stage).

From the run's best checkpoint (weights only; a fresh Adam), each row trains `--steps` updates on the run's
own data (its scale augmentation included) with a warm-up of a tenth of the steps to `--lr` and a cosine to
0, then scores BSDS200-val as `falsr train` does. The L1 row is the control: the same extra steps with the
recipe's loss. Rows stream to OUT (JSONL); a row already there is not trained again.

    .venv/bin/python benchmarks/finetune_loss.py --run RUN [--steps 2000] [--lr 1e-4] [--patch 64] \
        [--losses l1,l2] [--out runs/finetune-loss.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from falsr_cli.atomic import append_jsonl, read_jsonl
from falsr_cli.machine import cpu_generation, cpu_model
from falsr_cli.models.weights import restore_into
from falsr_cli.space.architecture import Architecture
from falsr_cli.train.checkpoints import best_checkpoint, list_checkpoints
from falsr_cli.train.config import TrainConfig
from falsr_cli.train.pipeline import (
    LumaSet,
    PatchSampler,
    ValidationSet,
    load_luma_set,
    load_validation_set,
    make_upscaler,
    validate_model,
)
from falsr_cli.train.trainer import Trainer, WarmupSchedule, configure_determinism


def finetune(run: Path, config: dict, images: LumaSet, valset: ValidationSet, loss: str, steps: int,
             lr: float, patch: int) -> dict:
    """One row: the run's best weights trained on `images` for `steps` with `loss`, scored on `valset`."""
    import tensorflow as tf

    arch = Architecture.from_dict(json.loads((run / "arch.json").read_text()))
    best = best_checkpoint(list_checkpoints(run / "checkpoints"))
    if best is None:
        sys.exit(f"{run}: no validated checkpoint")
    configure_determinism(True)
    rate = TrainConfig(arch="-", steps=steps, lr=lr, schedule="cosine", batch=config["batch"],
                       scale=arch.scale, patch=patch).validate()
    trainer = Trainer(arch, batch=config["batch"], patch=patch, lr=WarmupSchedule.from_config_of_run(rate),
                      seed=config["seed"], init="he", precision=config["precision"], loss=loss)
    restore_into(tf.train.Checkpoint(model=trainer.model), best.prefix, partial=True)
    # Another seed than the run's: fresh patches, not a replay of its first steps.
    sampler = PatchSampler(images, batch=config["batch"], patch=patch, seed=config["seed"] + 1)
    upscaler = make_upscaler(trainer.model, arch.scale)
    before = validate_model(trainer.model, valset, upscaler=upscaler)[0]
    t0 = time.perf_counter()
    for lr_batch, hr_batch in sampler.dataset(0, steps):
        trainer.train_step(lr_batch, hr_batch)
    seconds = time.perf_counter() - t0
    psnr, ssim, _ = validate_model(trainer.model, valset, upscaler=upscaler)
    return {"run": str(run), "from_step": best.step, "loss": loss, "steps": steps, "lr": lr, "patch": patch,
            "val_before": before, "val_psnr": psnr, "val_ssim": ssim, "train_seconds": seconds,
            "cpu": cpu_model(), "cpu_generation": cpu_generation()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--losses", default="l1,l2")
    ap.add_argument("--out", type=Path, default=Path("runs/finetune-loss.jsonl"))
    args = ap.parse_args()
    done = {(r["run"], r["loss"], r["steps"], r["lr"], r["patch"]) for r in read_jsonl(args.out)}
    todo = [loss for loss in args.losses.split(",")
            if (str(args.run), loss, args.steps, args.lr, args.patch) not in done]
    if not todo:
        return
    # The run's data and validation images, decoded once for every row.
    config = json.loads((args.run / "config.json").read_text())
    images = load_luma_set(config["data"], config["scale"], downscales=config.get("scale_aug") or ())
    valset = load_validation_set(config["val"], config["scale"])
    for loss in todo:
        row = finetune(args.run, config, images, valset, loss, args.steps, args.lr, args.patch)
        append_jsonl(args.out, row)
        print(f"{loss}: val {row['val_before']:.4f} → {row['val_psnr']:.4f} "
              f"({row['val_psnr'] - row['val_before']:+.4f}) in {row['train_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
