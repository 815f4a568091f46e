"""`falsr train`: train an architecture with validation on held-out images and exact resume."""

from __future__ import annotations

import click

from falsr_cli.train.config import PRECISION_CHOICES, TrainConfig, parse_factors

_TRAIN = TrainConfig()


@click.command("train")
@click.option("--arch", required=True, metavar="SPEC",
              help="FALSR-A|FALSR-B|FALSR-C, an architecture .json, or a search result pareto.json#K.")
@click.option("--data", default=_TRAIN.data, show_default=True, metavar="SETS|FOLDER",
              help="Training images: registered sets (comma-separated; fetched or mirrored if absent), "
                   "a folder of HR images (LR made once by MATLAB bicubic and cached) or of "
                   "img_NNN_SRF_2_{LR,HR} pairs.")
@click.option("--val", default=_TRAIN.val, show_default=True, metavar="SET|FOLDER|none",
              help="Validation images held out of training (they pick the best checkpoint), scored as the "
                   "paper (full images, luma, border = scale); 'none' to skip. Keep benchmarks for testing.")
@click.option("--steps", type=click.IntRange(1), default=_TRAIN.steps, show_default=True,
              help="Training steps (updates).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder. Re-running the same command on it resumes from its last checkpoint.")
@click.option("--batch", type=click.IntRange(1), default=_TRAIN.batch, show_default=True,
              help="Patches per step (paper: 16).")
@click.option("--patch", type=click.IntRange(2), default=_TRAIN.patch, show_default=True,
              help="HR patch size (LR patch = patch / scale; paper: 96). Images smaller than a patch are "
                   "left out, with a note.")
@click.option("--lr", type=float, default=_TRAIN.lr, show_default=True,
              help="Adam peak learning rate (paper: 1e-4 constant).")
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True, help="Upscaling factor.")
@click.option("--schedule", type=click.Choice(["constant", "step", "cosine"]), default=_TRAIN.schedule,
              show_default=True, help="Learning-rate schedule after the warm-up.")
@click.option("--warmup", type=click.IntRange(0), default=None,
              help="Linear warm-up steps from lr/warmup to lr [100, or a tenth of a shorter run].")
@click.option("--decay-every", type=click.IntRange(0), default=0, show_default=True,
              help="step schedule: multiply the rate by --decay-gamma every this many steps (0: steps/2).")
@click.option("--decay-gamma", type=float, default=0.5, show_default=True, help="step schedule factor.")
@click.option("--min-lr", type=float, default=0.0, show_default=True, help="cosine schedule: final rate.")
@click.option("--init", type=click.Choice(["he-zero", "lsuv", "he", "normal"]), default=_TRAIN.init,
              show_default=True,
              help="Initial weights: he-zero (He-normal, output conv near zero, at zero in a -res network: "
                   "it starts at bicubic), lsuv (he-zero, then each conv scaled to an output RMS of 0.5 on "
                   "the first batch), he (output conv near zero) or normal (paper: N(0, 0.02)).")
@click.option("--reparam/--no-reparam", default=_TRAIN.reparam, show_default=True,
              help="Train each 3×3 conv with extra linear branches (1×1→3×3, Sobel and Laplacian edges) "
                   "merged into one 3×3 kernel: same cost per step and at inference, a different "
                   "optimisation.")
@click.option("--augment/--no-augment", default=True, show_default=True,
              help="Random flips and 90° rotations.")
@click.option("--scale-aug", default="none", show_default=True, metavar="FACTORS",
              help="Also train on every image downscaled by these factors (MATLAB bicubic, e.g. "
                   "0.9,0.8,0.7,0.6 as FSRCNN), its LR made from the smaller copy.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of the initial weights and of the data order (crops, flips).")
@click.option("--val-every", type=click.IntRange(1), default=1000, show_default=True,
              help="Validate every N steps.")
@click.option("--ckpt-every", type=click.IntRange(1), default=1000, show_default=True,
              help="Checkpoint every N steps (also whenever validation PSNR improves).")
@click.option("--keep", type=click.IntRange(1), default=3, show_default=True,
              help="Checkpoints kept: the last N, plus the best by validation PSNR.")
@click.option("--log-every", type=click.IntRange(1), default=10, show_default=True,
              help="Write a metrics.jsonl record every N steps.")
@click.option("--precision", type=click.Choice(PRECISION_CHOICES),
              default="auto", show_default=True,
              help="Compute precision. auto: bfloat16 on CPUs that compute it natively (AVX-512 BF16, AMX), "
                   "mixed_float16 on GPUs with tensor cores, else float32 (mixed_float16 adds dynamic loss "
                   "scaling).")
@click.option("--jit", is_flag=True, help="Compile the training step with XLA.")
@click.option("--devices", default="auto", show_default=True, metavar="auto|DEV,DEV",
              help="'auto': all visible GPUs (mirrored), else one device; or a list such as /gpu:0,/gpu:1.")
@click.option("--resume", is_flag=True, help="Require an existing run in --out and continue it.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON instead of a table.")
def train_cmd(arch: str, data: str, val: str, steps: int, out: str, batch: int, patch: int, lr: float,
              scale: int, schedule: str, warmup: int | None, decay_every: int, decay_gamma: float,
              min_lr: float, init: str, reparam: bool, augment: bool, scale_aug: str, seed: int,
              val_every: int, ckpt_every: int, keep: int, log_every: int, precision: str, jit: bool,
              devices: str, resume: bool,
              data_dir: str | None, quiet: bool, as_json: bool) -> None:
    """Train an architecture on luma (Adam, L1 loss), validating on held-out images and checkpointing.

    The defaults are a recipe measured to converge fast on a CPU (benchmarks/convergence.py); the image-level
    residual is part of the architecture (e.g. --arch FALSR-B-res, or `-res` in an architecture's text).

    Writes to --out: config.json, arch.json, checkpoints/ (last --keep and the best), metrics.jsonl,
    tensorboard/ and model.keras (best weights). Killed at any moment, the same command continues
    from the last checkpoint and ends with the same weights as an uninterrupted run.

    \b
    Examples:
      falsr train --arch FALSR-B-res --steps 5000 --out runs/b
      falsr train --arch runs/search/pareto.json#3 --data ./hr_photos --out runs/p3 --schedule cosine
      falsr train --arch FALSR-A --data DIV2K --out runs/a --precision mixed_float16 --jit
      falsr evaluate --dataset Set14 --model runs/b
    """
    from falsr_cli.cli.views import run_summary_table
    from falsr_cli.console import console, err_console, progress
    from falsr_cli.train import TrainConfig, train

    config = TrainConfig(
        arch=arch, data=data, val=None if val.lower() == "none" else val, steps=steps, out=out, batch=batch,
        patch=patch, lr=lr, scale=scale, schedule=schedule, warmup=warmup, decay_every=decay_every,
        decay_gamma=decay_gamma, min_lr=min_lr, init=init, reparam=reparam, augment=augment,
        scale_aug=parse_factors(scale_aug), seed=seed,
        val_every=val_every,
        ckpt_every=ckpt_every, keep=keep, log_every=log_every, precision=precision, jit=jit, devices=devices,
        data_dir=data_dir, resume=resume, progress=not quiet,
    )
    def on_event(kind: str, data: dict) -> None:
        if kind == "note":
            err_console.print(f"[yellow]note:[/] {data['message']}")

    from dataclasses import fields

    from falsr_cli.cli import naming_options

    with naming_options({f.name for f in fields(TrainConfig)}):
        summary = train(config, on_event=on_event, progress=progress)
    if as_json:
        import json

        click.echo(json.dumps(summary, indent=2))
    else:
        console.print(run_summary_table(summary))
