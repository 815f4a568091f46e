"""What a training run is: `TrainConfig`, its validation, and the learning-rate schedule as a pure function.

Defaults are a recipe that converges fast on a CPU (measured by `benchmarks/convergence.py`): batch 16,
HR patch 64, Adam (β1 0.9, β2 0.999) at a peak learning rate of 1e-3 with a 100-step linear warm-up and
cosine decay over the run, L1 loss, He-normal weights with the output conv near zero (at zero in a
network with the image-level residual, which then starts at bicubic), biases 0.
The paper's recipe is Adam 1e-4 constant at patch 96 with weights N(0, 0.02)
(`--lr 1e-4 --schedule constant --warmup 0 --patch 96 --init normal`).

Training and selection data: T91 plus BSDS200-train (190 images); the best checkpoint is chosen on
BSDS200-val, 10 BSDS200 images held out of training. Set5, Set14, B100 and Urban100 stay test sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from falsr_cli.errors import FalsrError

SCHEDULES = ("constant", "step", "cosine")
PRECISIONS = ("float32", "mixed_float16", "bfloat16")
PRECISION_CHOICES = ("auto", *PRECISIONS)  # what --precision takes (train and search)
# Flags of CPUs with bfloat16 arithmetic in hardware (AVX-512 BF16, AMX); elsewhere it is emulated and slower.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
INITS = ("normal", "he", "he-zero", "lsuv")  # as falsr_cli.models.builder.INITS (no TensorFlow here)

# Fields that may differ when a run is resumed: they change where or how often things are written, or
# how long the run goes on, never what a step computes.
RESUMABLE_CHANGES = frozenset(
    {"out", "resume", "steps", "val_every", "ckpt_every", "keep", "log_every", "val_images", "data_dir",
     "progress", "devices"}
)


def auto_precision(cpu_flags: Sequence[str], gpu_capabilities: Sequence[tuple[int, int]] = ()) -> str:
    """The fastest precision that trains as well as float32 on this hardware.

    GPUs (their CUDA compute capabilities): mixed_float16 where every one has tensor cores (7.0 and up),
    else float32. CPUs: bfloat16 where the processor computes it natively (FALSR-B steps 1.49× faster
    on an AVX-512 BF16 EPYC at the same PSNR per step, benchmarks/convergence.py), else float32.
    """
    if gpu_capabilities:
        return "mixed_float16" if all(tuple(c) >= (7, 0) for c in gpu_capabilities) else "float32"
    return "bfloat16" if NATIVE_BF16_FLAGS & set(cpu_flags) else "float32"


@dataclass
class TrainConfig:
    """Everything that defines a training run; `config.json` in the run folder is this, as JSON."""

    arch: str = "FALSR-A"
    data: str = "T91,BSDS200-train"
    val: str | None = "BSDS200-val"
    steps: int = 20000
    out: str = "runs/train"
    batch: int = 16
    patch: int = 64
    lr: float = 1e-3
    scale: int = 2
    schedule: str = "cosine"
    warmup: int | None = None  # None: min(100, steps // 10)
    decay_every: int = 0  # step schedule: multiply by decay_gamma every this many steps (0: steps // 2)
    decay_gamma: float = 0.5
    min_lr: float = 0.0  # cosine schedule floor
    beta1: float = 0.9
    beta2: float = 0.999
    # "normal": the paper's N(0, 0.02); "he": He-normal, output conv near zero; "he-zero": at 0 in -res nets
    init: str = "he-zero"
    # Train every ungrouped 3×3 conv as an edge-oriented block (models.builder.RepConv2D); the saved model
    # is the plain network with the branches merged, so inference is unchanged.
    reparam: bool = False
    augment: bool = True
    # Also train on every image downscaled by these factors (FSRCNN's 0.9, 0.8, 0.7, 0.6): more content at
    # the training images' pixel scale without other data.
    scale_aug: tuple[float, ...] = ()
    seed: int = 0
    val_every: int = 1000
    ckpt_every: int = 1000
    keep: int = 3
    log_every: int = 10
    val_images: int = 3  # validation images written to TensorBoard
    precision: str = "auto"  # resolved when the run starts (auto_precision) and recorded resolved
    jit: bool = False
    devices: str = "auto"  # all GPUs (MirroredStrategy if several), else one device; or e.g. "/cpu:0,/cpu:1"
    deterministic: bool = True
    data_dir: str | None = None
    resume: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        # A JSON round trip gives a list; compare and record one form.
        if isinstance(self.scale_aug, list | tuple):
            self.scale_aug = tuple(self.scale_aug)

    def validate(self) -> TrainConfig:
        """Raise FalsrError naming the first bad field; return self."""
        positive = ("steps", "batch", "patch", "scale", "val_every", "ckpt_every", "keep", "log_every")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise FalsrError(f"{name}: must be a positive integer, got {v!r}")
        for name in ("decay_every", "val_images", "seed") + (("warmup",) if self.warmup is not None else ()):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise FalsrError(f"{name}: must be a non-negative integer, got {v!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise FalsrError(f"lr: must be a positive number, got {self.lr!r}")
        if not (0 <= self.min_lr <= self.lr):
            raise FalsrError(f"min_lr: must be in [0, lr], got {self.min_lr!r}")
        if not (0 < self.decay_gamma <= 1):
            raise FalsrError(f"decay_gamma: must be in (0, 1], got {self.decay_gamma!r}")
        for name in ("beta1", "beta2"):
            if not (0 <= getattr(self, name) < 1):
                raise FalsrError(f"{name}: must be in [0, 1), got {getattr(self, name)!r}")
        if self.schedule not in SCHEDULES:
            raise FalsrError(f"schedule: {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.init not in INITS:
            raise FalsrError(f"init: {self.init!r} is not one of {', '.join(INITS)}")
        if self.precision not in PRECISION_CHOICES:
            raise FalsrError(f"precision: {self.precision!r} is not one of {', '.join(PRECISION_CHOICES)}")
        if not isinstance(self.scale_aug, tuple) or not all(
                isinstance(f, int | float) and not isinstance(f, bool) and 0 < f < 1 for f in self.scale_aug):
            raise FalsrError(f"scale_aug: factors must be numbers between 0 and 1, got {self.scale_aug!r}")
        if len(set(self.scale_aug)) != len(self.scale_aug):
            raise FalsrError(f"scale_aug: a factor is given twice in {self.scale_aug!r}")
        if self.patch % self.scale:
            raise FalsrError(f"patch: {self.patch} is not a multiple of the scale {self.scale}")
        if not str(self.data).strip():
            raise FalsrError("data: no training data given")
        try:
            # JSON files in the run folder record it: a path with bytes that are not UTF-8 (a surrogate
            # escape from the command line) would fail there, after the folder was made.
            str(self.out).encode("utf-8")
        except UnicodeEncodeError:
            raise FalsrError(f"out: {self.out!r} is not a UTF-8 path; give another --out") from None
        if self.warmup is not None and self.warmup >= self.steps and self.warmup:
            raise FalsrError(f"warmup: {self.warmup} steps is not shorter than the run ({self.steps} steps);"
                             f" give --warmup {self.steps - 1} or less")
        return self

    @property
    def warmup_steps(self) -> int:
        """The warm-up actually used: as given, else 100 steps or a tenth of a shorter run."""
        return self.warmup if self.warmup is not None else min(100, self.steps // 10)

    @property
    def lr_patch(self) -> int:
        return self.patch // self.scale

    @property
    def step_decay_every(self) -> int:
        return self.decay_every or max(1, self.steps // 2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """A config from its dict; unknown keys are an error (naming the key), missing keys take defaults."""
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise FalsrError(f"{key}: not a training option")
        return cls(**{k: v for k, v in d.items() if k in known})

    def differences(self, other: TrainConfig) -> list[str]:
        """Fields whose values differ and that a resumed run may not change."""
        out = []
        for f in fields(self):
            # The architecture is compared as resolved (a preset name and its JSON file are the same).
            if f.name in RESUMABLE_CHANGES or f.name == "arch":
                continue
            # JSON round-trips Python floats exactly, so plain equality is the right test.
            if getattr(self, f.name) != getattr(other, f.name):
                out.append(f.name)
        # A cosine schedule spans the whole run, so its length is part of every step's learning rate; so is
        # it for the step schedule's default interval (half the run) and the default warm-up (a tenth).
        if self.steps != other.steps and (
            "cosine" in (self.schedule, other.schedule)
            or (self.schedule == "step" and not self.decay_every)
            or (None in (self.warmup, other.warmup) and self.warmup_steps != other.warmup_steps)
        ):
            out.append("steps")
        return out


def parse_factors(text: str) -> tuple[float, ...]:
    """Scale-augmentation factors from "0.9,0.8,0.7,0.6" ("" or "none": none); ranges are checked by
    `TrainConfig.validate`."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    out = []
    for item in text.split(","):
        try:
            out.append(float(item))
        except ValueError:
            raise FalsrError(f"scale_aug: {item.strip()!r} is not a number (expected e.g. 0.9,0.8,0.7,0.6)") \
                from None
    return tuple(out)


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """The learning rate of update number `iteration` (0-based): warm-up, then the schedule."""
    i = float(iteration)
    base = config.lr
    if config.schedule == "constant":
        rate = base
    elif config.schedule == "step":
        rate = base * config.decay_gamma ** math.floor(i / config.step_decay_every)
    else:
        span = max(1, config.steps - config.warmup_steps)
        t = min(max((i - config.warmup_steps) / span, 0.0), 1.0)
        rate = config.min_lr + (base - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))
    if config.warmup_steps and i < config.warmup_steps:
        rate *= (i + 1.0) / config.warmup_steps
    return rate
