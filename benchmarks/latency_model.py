"""Validate the latency model: predicted against measured latency on random architectures and FALSR-A/B/C.

For each runtime: this machine's profile (`falsr latency profile`, built here if not cached; `--rebuild`
measures it again), then K random architectures (a seed apart from the profile's calibration networks,
with and without the image-level residual) and the three published ones, each measured whole
(median of `--runs` after warm-up) and predicted from its description alone. Prints, per runtime, the
mean absolute percentage error, Kendall τ-b and Spearman ρ between prediction and measurement, and the
same for mult-adds as a predictor of speed (the baseline the latency model must beat); writes JSON.
Measurements stream to OUT/latency_model.jsonl, so an interrupted run resumes. Needs quiet cores.

    .venv/bin/python benchmarks/latency_model.py [--runtimes tf,xnnpack,xnnpack-fp16,xnnpack-int8]
        [--k 30] [--input 240x240] [--threads 2] [--space falsr|wide] [--out runs/latency_model]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_generation, cpu_model  # noqa: E402
from falsr_cli.search.ranking import kendall_tau, spearman_rho  # noqa: E402


def architectures(k: int, seed: int, space: str) -> list[tuple[str, object]]:
    import numpy as np

    from falsr_cli.space.architecture import PRESETS, Architecture

    rng = np.random.default_rng(seed)
    out = [(name, arch) for name, arch in PRESETS.items()]
    out += [(f"random-{i}", Architecture.random(rng, n=7, residual=bool(i % 2), space=space))
            for i in range(k)]
    return out


def mape(pred: list[float], meas: list[float]) -> float:
    return sum(abs(p - m) / m for p, m in zip(pred, meas, strict=True)) / len(meas)


def main() -> None:
    from falsr_cli.cost.cost_model import mult_adds
    from falsr_cli.cost.latency_model import predict_ms
    from falsr_cli.cost.summary import parse_hw
    from falsr_cli.models.latency import (
        default_threads,
        load_profile,
        measure_network,
        random_luma_model,
        set_tf_threads,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtimes", default="tf,xnnpack,xnnpack-fp16,xnnpack-int8")
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--input", default="240x240")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--space", default="falsr", help="the cell space the random architectures come from")
    ap.add_argument("--out", default="runs/latency_model")
    args = ap.parse_args()

    hw = parse_hw(args.input)
    threads = set_tf_threads(default_threads(args.threads))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "latency_model.jsonl"
    archs = architectures(args.k, args.seed, args.space)
    summary = {"cpu": cpu_model(), "cpu_generation": cpu_generation(), "cpu_flags": cpu_flags(),
               "cores": os.cpu_count(), "threads": threads,
               "input": list(hw), "k": len(archs), "space": args.space, "runtimes": {}}
    for runtime in args.runtimes.split(","):
        profile, path = load_profile(runtime, threads, hw, data_dir=args.data_dir, rebuild=args.rebuild,
                                     space=args.space)
        print(f"{runtime}: profile {path} ({len(profile['ops'])} operations, "
              f"{profile['seconds']:.0f} s to build)",
              flush=True)
        done = {(r["runtime"], r["text"]): r for r in read_jsonl(journal)
                if r.get("profile") == profile["created"]}
        rows = []
        for name, arch in archs:
            row = done.get((runtime, arch.to_text()))
            if row is not None:  # measured before: predicted again, by the model as it is now
                row = {**row, "predicted_ms": predict_ms(arch, profile)}
            else:
                measured = measure_network(random_luma_model(arch), runtime, threads, hw, runs=args.runs,
                                           warmup=2)["median_ms"]
                row = {"runtime": runtime, "name": name, "text": arch.to_text(), "measured_ms": measured,
                       "predicted_ms": predict_ms(arch, profile), "mult_adds": mult_adds(arch, hw),
                       "profile": profile["created"], "cpu": cpu_model()}
                append_jsonl(journal, row)
                print(f"  {name:10s} measured {measured:8.1f} ms  predicted {row['predicted_ms']:8.1f} ms",
                      flush=True)
            rows.append(row)
        meas = [r["measured_ms"] for r in rows]
        pred = [r["predicted_ms"] for r in rows]
        macs = [float(r["mult_adds"]) for r in rows]
        # Mult-adds as a predictor: scaled by the least-squares rate through the origin.
        rate = sum(m * t for m, t in zip(macs, meas, strict=True)) / sum(m * m for m in macs)
        summary["runtimes"][runtime] = {
            "profile": str(path), "profile_seconds": profile["seconds"],
            "mean_abs_pct_error": 100 * mape(pred, meas), "kendall_tau": kendall_tau(pred, meas),
            "spearman_rho": spearman_rho(pred, meas),
            "mult_adds_mean_abs_pct_error": 100 * mape([rate * m for m in macs], meas),
            "mult_adds_kendall_tau": kendall_tau(macs, meas),
            "published_ms": {r["name"]: {"measured": r["measured_ms"], "predicted": r["predicted_ms"]}
                             for r in rows if r["name"].startswith("FALSR")},
        }
    (out / "latency_model.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{len(archs)} architectures, {hw[0]}x{hw[1]}, {threads} threads, {cpu_model()}")
    print(f"{'runtime':14s} {'MAPE %':>7s} {'tau':>6s} {'rho':>6s} | mult-adds: {'MAPE %':>7s} {'tau':>6s}")
    for runtime, s in summary["runtimes"].items():
        print(f"{runtime:14s} {s['mean_abs_pct_error']:7.1f} {s['kendall_tau']:6.3f} "
              f"{s['spearman_rho']:6.3f} | "
              f"{'':11s}{s['mult_adds_mean_abs_pct_error']:7.1f} {s['mult_adds_kendall_tau']:6.3f}")
        for name, v in s["published_ms"].items():
            print(f"  {name}: measured {v['measured']:.1f} ms, predicted {v['predicted']:.1f} ms")
    print(f"wrote {out / 'latency_model.json'}")


if __name__ == "__main__":
    main()
