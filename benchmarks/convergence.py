"""Time to quality of `falsr train`'s recipe against the paper's, on one architecture, in one run.

Each recipe trains the same architecture (default FALSR-B) from the same initial weights on the same data
(T91 + BSDS200-train, falsr's pipeline keyed by (seed, step)) for the same wall-clock training budget
(default 20 minutes), and is scored at fixed wall-clock points on the held-out split (BSDS200-val, the
selection set) and on Set5 and Set14 (test sets: reported, never used to choose anything).

Wall-clock is converted from steps: before training, every recipe's step time is measured on quiet cores
(`--timing-steps` steps after a warm-up) and recorded; minute m of a recipe is then step round(60·m / t).
Quality at a fixed step is immune to load, so the long part may share the machine; the timing may not
(run it alone, or pass `--step-seconds` measured quietly). Validation time is not part of the budget.

Recipes, written here:
- paper:      Adam 1e-4 constant (β 0.9/0.999), L1, weights N(0, 0.02), biases 0, batch 16 (the baseline);
- falsr:      `falsr train`'s defaults (TrainConfig()), the same architecture;
- falsr-res:  the defaults with the image-level bicubic residual (`<arch>-res`);
- ablations, by --recipes: falsr-res-normal-init (the paper's N(0, 0.02) weights), falsr-res-he (the
  output conv near zero instead of at zero), falsr-res-constant
  (no cosine decay), falsr-res-bf16 / falsr-res-float32 (the precision fixed; the defaults' `auto` picks
  bfloat16 on CPUs with native BF16: its shorter step time buys more steps).
All at the same patch size (`--patch`, default TrainConfig's). Each recipe's schedule spans its own budget.

Results stream to OUT/convergence.jsonl (a killed run resumes from its checkpoints in OUT/ckpt); at the
end OUT/convergence.json and OUT/convergence.png, and a table: minutes → dB per recipe, the minutes each
recipe needs to reach the baseline's final Set5 PSNR, and the ratio to the baseline's budget.

    .venv/bin/python benchmarks/convergence.py [--arch FALSR-B] [--minutes 20] [--out runs/convergence]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_model  # noqa: E402

POINTS = (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 12, 15, 20)
SETS = ("held_out", "Set5", "Set14")


def recipes(arch: str, patch: int | None) -> dict:
    from falsr_cli.train.config import TrainConfig

    base = TrainConfig()
    p = patch or base.patch
    return {
        "paper": dict(arch=arch, lr=1e-4, schedule="constant", warmup=0, beta1=0.9, beta2=0.999, batch=16,
                      init="normal", patch=p, precision="float32"),
        "falsr": dict(arch=arch, patch=p),
        "falsr-res": dict(arch=f"{arch}-res", patch=p),
        # Ablations (--recipes): one lever of the defaults taken back at a time.
        "falsr-res-normal-init": dict(arch=f"{arch}-res", patch=p, init="normal"),
        "falsr-res-he": dict(arch=f"{arch}-res", patch=p, init="he"),  # output conv near zero, not at zero
        "falsr-res-constant": dict(arch=f"{arch}-res", patch=p, schedule="constant"),
        # Precision: the defaults' `auto` is bfloat16 where the CPU computes it natively (avx512_bf16, AMX),
        # else float32; these two fix it either way.
        "falsr-res-bf16": dict(arch=f"{arch}-res", patch=p, precision="bfloat16"),
        "falsr-res-float32": dict(arch=f"{arch}-res", patch=p, precision="float32"),
    }


def ensure_data(shared: Path | None) -> None:
    from falsr_cli.data import registry

    for name, sub in (("T91", "train"), ("BSDS200", "train"), ("Set5", "benchmark"), ("Set14", "benchmark")):
        if not registry.is_present(name):
            folder = shared / "datasets" / sub if shared else None
            mirror = str(folder) if folder and folder.is_dir() else None
            registry.download(name, mirror=mirror, quiet=True)


def make_trainer(spec: dict, steps: int):
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.train.config import TrainConfig
    from falsr_cli.train.trainer import Trainer, WarmupSchedule

    c = TrainConfig(**spec, steps=steps).validate()
    arch = load_architecture(c.arch)
    trainer = Trainer(arch, batch=c.batch, patch=c.patch, lr=WarmupSchedule.from_config_of_run(c),
                      beta1=c.beta1, beta2=c.beta2, seed=c.seed, init=c.init, precision=c.precision)
    return c, arch, trainer


def step_seconds(spec: dict, images, n: int) -> float:
    """Seconds per training step of a recipe, after a warm-up (tracing excluded)."""
    from falsr_cli.train.pipeline import PatchSampler

    c, _, trainer = make_trainer(spec, 1000)
    sampler = PatchSampler(images, batch=c.batch, patch=c.patch, seed=c.seed)
    batches = list(sampler.dataset(0, n + 3))
    for lr, hr in batches[:3]:
        float(trainer.train_step(lr, hr))
    t0 = time.perf_counter()
    loss = None
    for lr, hr in batches[3:]:
        loss = trainer.train_step(lr, hr)
    float(loss)
    return (time.perf_counter() - t0) / n


def run_recipe(name: str, spec: dict, seconds: float, args, images, valsets, journal: Path, done: list[dict],
               log) -> None:
    import tensorflow as tf

    from falsr_cli.train.pipeline import PatchSampler, make_upscaler, validate_model

    total = max(1, round(60 * args.minutes / seconds))
    c, arch, trainer = make_trainer(spec, total)
    sampler = PatchSampler(images, batch=c.batch, patch=c.patch, seed=c.seed)
    ckpt_dir = Path(args.out) / "ckpt" / name
    manager = tf.train.CheckpointManager(trainer.checkpoint(), str(ckpt_dir), max_to_keep=1)
    if manager.latest_checkpoint:
        trainer.checkpoint().restore(manager.latest_checkpoint).expect_partial()
    upscaler = make_upscaler(trainer.model, arch.scale)
    points = sorted({p for p in POINTS if p <= args.minutes} | {args.minutes})
    have = {r["minutes"] for r in done if r.get("recipe") == name and r.get("kind") == "point"}
    step = int(trainer.step.numpy())

    def evaluate(minutes: float, at: int) -> None:
        row = {"kind": "point", "recipe": name, "minutes": minutes, "step": at}
        t = time.perf_counter()
        for label, vs in valsets.items():
            psnr, ssim, _ = validate_model(trainer.model, vs, upscaler=upscaler)
            row[label] = {"psnr": psnr, "ssim": ssim}
        row["eval_seconds"] = time.perf_counter() - t
        append_jsonl(journal, row)
        log(f"{name:10s} {minutes:5.2f} min  step {at:5d}  " +
            "  ".join(f"{k} {row[k]['psnr']:.3f}" for k in valsets))

    if 0.0 not in have and step == 0:
        evaluate(0.0, 0)
    for m in points:
        target = min(total, max(1, round(60 * m / seconds)))
        if m in have:
            continue
        if target > step:
            for lr, hr in sampler.dataset(step, target):
                trainer.train_step(lr, hr)
            step = target
            manager.save(checkpoint_number=step)
        evaluate(m, step)


def summarise(rows: list[dict], timing: dict, args) -> dict:
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("kind") == "point":
            by.setdefault(r["recipe"], []).append(r)
    for v in by.values():
        v.sort(key=lambda r: r["minutes"])
    base = by.get("paper", [])
    target = base[-1]["Set5"]["psnr"] if base else None

    def reach(curve: list[dict]) -> float | None:
        """First wall-clock minute at which Set5 PSNR reaches the target (linear between points)."""
        if target is None:
            return None
        prev = None
        for r in curve:
            p = r["Set5"]["psnr"]
            if p >= target:
                if prev is None:
                    return r["minutes"]
                m0, p0 = prev["minutes"], prev["Set5"]["psnr"]
                return m0 + (r["minutes"] - m0) * (target - p0) / (p - p0)
            prev = r
        return None

    out = {"arch": args.arch, "minutes": args.minutes, "cpu": cpu_model(), "cpu_flags": cpu_flags(),
           "cores": os.cpu_count(), "step_seconds": timing, "baseline_final_set5": target, "recipes": {}}
    for name, curve in by.items():
        t = reach(curve)
        final = curve[-1]
        out["recipes"][name] = {
            "curve": [{"minutes": r["minutes"], "step": r["step"],
                       **{k: r[k]["psnr"] for k in SETS if k in r}} for r in curve],
            "final": {k: final[k]["psnr"] for k in SETS if k in final},
            "minutes_to_baseline_final": t,
            "speedup_vs_baseline": (args.minutes / t) if t else (math.inf if t == 0 else None),
            "final_gain_set5_db": (final["Set5"]["psnr"] - target) if target is not None else None,
        }
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True)
    for ax, key in zip(axes, SETS, strict=True):
        for name, r in summary["recipes"].items():
            xs = [p["minutes"] for p in r["curve"] if p["minutes"] > 0]
            ys = [p[key] for p in r["curve"] if p["minutes"] > 0]
            ax.plot(xs, ys, marker="o", ms=3, label=name)
        ax.set_title(f"{key} ×2 PSNR" + (" (held out of training)" if key == "held_out" else " (test set)"))
        ax.set_xlabel("training minutes (from steps × quiet step time)")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dB")
    axes[0].legend()
    fig.suptitle(f"{summary['arch']} on T91+BSDS200-train, {summary['cpu']}, {summary['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    from falsr_cli.train.brief import training_images, validation_set

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="FALSR-B")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--patch", type=int, default=None)
    ap.add_argument("--recipes", default="paper,falsr,falsr-res")
    ap.add_argument("--timing-steps", type=int, default=20)
    ap.add_argument("--step-seconds", type=float, default=None, help="Use this step time for every recipe.")
    ap.add_argument("--out", default="runs/convergence")
    args = ap.parse_args()

    shared = Path(os.environ.get("FALSR_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
    ensure_data(shared if shared.is_dir() else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "convergence.jsonl"
    rows = read_jsonl(journal)
    specs = recipes(args.arch, args.patch)
    chosen = [r.strip() for r in args.recipes.split(",") if r.strip()]
    images = training_images("T91,BSDS200-train", 2)
    valsets = {"held_out": validation_set("BSDS200-val", 2), "Set5": validation_set("Set5", 2),
               "Set14": validation_set("Set14", 2)}

    def log(msg: str) -> None:
        print(msg, flush=True)

    timing = {r["recipe"]: r["seconds"] for r in rows if r.get("kind") == "timing"}
    for name in chosen:
        if name not in timing:
            s = args.step_seconds or step_seconds(specs[name], images, args.timing_steps)
            append_jsonl(journal, {"kind": "timing", "recipe": name, "seconds": s, "cpu": cpu_model(),
                             "measured": args.step_seconds is None, "load": os.getloadavg()[0]})
            timing[name] = s
            log(f"{name:10s} {s:.3f} s/step (quiet timing, load {os.getloadavg()[0]:.2f})")
    for name in chosen:
        run_recipe(name, specs[name], timing[name], args, images, valsets, journal, read_jsonl(journal), log)

    summary = summarise(read_jsonl(journal), timing, args)
    (out / "convergence.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(summary, out / "convergence.png")

    names = list(summary["recipes"])
    print(f"\n{args.arch}, {summary['cpu']} ({summary['cores']} cores); step s: " +
          ", ".join(f"{n} {timing[n]:.3f}" for n in names))
    for key in SETS:
        print(f"\n{key} PSNR (dB) by training minute")
        print("minutes " + " ".join(f"{n:>10s}" for n in names))
        minutes = sorted({p["minutes"] for r in summary["recipes"].values() for p in r["curve"]})
        for m in minutes:
            vals = []
            for n in names:
                hit = [p[key] for p in summary["recipes"][n]["curve"] if p["minutes"] == m]
                vals.append(f"{hit[0]:10.3f}" if hit else f"{'-':>10s}")
            print(f"{m:7.2f} " + " ".join(vals))
    t = summary["baseline_final_set5"]
    if t is None:
        print("\n(no 'paper' recipe in this run, so no time to the baseline: add it to --recipes)")
    else:
        print(f"\nbaseline (paper) final Set5 PSNR at {args.minutes:g} min: {t:.3f} dB")
        for n, r in summary["recipes"].items():
            reach, speed = r["minutes_to_baseline_final"], r["speedup_vs_baseline"]
            gain = r["final_gain_set5_db"]
            print(f"{n:10s} reaches it after {reach:.2f} min ({speed:.1f}x faster); final Set5 {gain:+.3f} dB"
                  if reach is not None else f"{n:10s} does not reach it; final Set5 {gain:+.3f} dB")
    print(f"\nwrote {out / 'convergence.json'} and {out / 'convergence.png'}")
    if not math.isfinite(sum(r["final"]["Set5"] for r in summary["recipes"].values())):
        raise SystemExit("a recipe ended with a non-finite PSNR")


if __name__ == "__main__":
    main()
