"""Training speed of `falsr train`'s step against a plain Keras `model.fit`, measured in the same run.

For each architecture (FALSR-A, -B, -C by default), on the same model (same initial weights), the same
tf.data patch pipeline and the same settings (batch, patch, Adam, L1):

- ours:   falsr_cli.train.trainer.Trainer.train_step fed by PatchSampler.dataset (what `falsr train` runs);
- fit:    `model.compile(Adam, "mae")` + `model.fit(dataset)`, the Keras baseline;
- const:  ours fed one constant in-memory batch: the model-only step time.

Prints steps/s and achieved GFLOP/s (3 × 2 × forward mult-adds per patch batch / step time; mult-adds
from the cost model), the ratio ours/fit (>= 1 means ours is not slower), and the share of our step time
spent outside the model: 1 − t(const) / t(ours), and the pipeline alone: ms per batch when iterated with
no model, and that as a share of our step time. Tracing/compilation is excluded (one warm-up call each);
the variants are timed in turns, --repeat times, and the best time of each is reported (a shared machine).

    .venv/bin/python benchmarks/train_speed.py [--steps 5] [--batch 16] [--patch 96] [--models FALSR-A]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _time_ours(trainer, batches) -> float:
    """Seconds per step over `batches` (an iterable of (lr, hr)), after the trainer has been traced."""
    t0 = time.perf_counter()
    loss = None
    for lr, hr in batches:
        loss = trainer.train_step(lr, hr)
    float(loss)  # wait for the last step
    return time.perf_counter() - t0


def bench(name: str, images, args) -> dict:
    import keras

    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.train.pipeline import PatchSampler
    from falsr_cli.train.trainer import Trainer, build_model

    arch = load_architecture(name)
    sampler = PatchSampler(images, batch=args.batch, patch=args.patch, seed=0)
    n = args.steps

    # Both set up and traced once (a one-step warm-up each); then timed in turns, best of --repeat.
    trainer = Trainer(arch, batch=args.batch, patch=args.patch, lr=1e-4, seed=0, jit=args.jit)
    float(trainer.train_step(*sampler.batch_at(0)))
    model = build_model(arch, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-8), loss="mae",
                  jit_compile=args.jit)
    model.fit(sampler.dataset(0, 1), epochs=1, verbose=0, shuffle=False)
    const = sampler.batch_at(0)

    t_ours, t_const, t_fit = [], [], []
    for r in range(args.repeat):
        start = 1 + r * n
        # ours: the real pipeline, as `falsr train` runs it
        t_ours.append(_time_ours(trainer, sampler.dataset(start, start + n)) / n)
        # ours with one constant batch in memory: the model's own step time
        t_const.append(_time_ours(trainer, [const] * n) / n)
        # Keras fit on the same pipeline
        ds = sampler.dataset(start, start + n)
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, shuffle=False)
        t_fit.append((time.perf_counter() - t0) / n)
    # the pipeline alone, iterated as fast as it goes (what a step waits for when the model is idle)
    t0 = time.perf_counter()
    for _ in sampler.dataset(0, 4 * n):
        pass
    t_pipe = (time.perf_counter() - t0) / (4 * n)
    ours, cst, fit = min(t_ours), min(t_const), min(t_fit)
    flops = trainer.flops_per_step()
    return {"model": name, "ours": 1 / ours, "fit": 1 / fit, "const": 1 / cst,
            "gflops_ours": flops / ours / 1e9, "gflops_fit": flops / fit / 1e9,
            "ratio": fit / ours, "outside": max(0.0, 1.0 - cst / ours), "pipe_ms": 1000 * t_pipe,
            "pipe_share": t_pipe / ours}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="FALSR-A,FALSR-B,FALSR-C")
    p.add_argument("--steps", type=int, default=5, help="timed steps per variant and repeat")
    p.add_argument("--repeat", type=int, default=3, help="timed turns of each variant; the best is reported")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--data", default="samples", help="training images (a registered set or a folder)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--jit", action="store_true", help="XLA for both ours and fit")
    p.add_argument("--no-determinism", action="store_true", help="skip tf op determinism (on by default)")
    args = p.parse_args()

    from falsr_cli.train.pipeline import load_luma_set
    from falsr_cli.train.trainer import configure_determinism

    configure_determinism(not args.no_determinism)
    images = load_luma_set(args.data, 2, args.data_dir)
    print(f"batch {args.batch}, patch {args.patch}, best of {args.repeat} x {args.steps} steps, "
          f"data {args.data} ({len(images)} images), jit {args.jit}, os.cpu_count {os.cpu_count()}")
    head = (f"{'model':8} {'ours st/s':>10} {'fit st/s':>9} {'ours/fit':>9} {'GFLOP/s ours':>13} "
            f"{'GFLOP/s fit':>12} {'const st/s':>11} {'outside model':>14} {'pipeline alone':>15}")
    print(head)
    print("-" * len(head))
    for name in args.models.split(","):
        r = bench(name.strip(), images, args)
        print(f"{r['model']:8} {r['ours']:10.3f} {r['fit']:9.3f} {r['ratio']:9.2f} {r['gflops_ours']:13.1f} "
              f"{r['gflops_fit']:12.1f} {r['const']:11.3f} {100 * r['outside']:13.1f}% "
              f"{r['pipe_ms']:7.1f} ms {100 * r['pipe_share']:4.1f}%", flush=True)


if __name__ == "__main__":
    main()
