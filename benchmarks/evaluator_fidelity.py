"""Evaluator fidelity: does the search's score rank networks as full training with the shipped recipe does?

The reference is exactly what a user gets: `falsr train` with its defaults and the settings of `make
pretrained-*` (T91 + BSDS200-train, 12,000 steps, patch 64, seed 0, validation every 1000 steps, the best
checkpoint on the held-out BSDS200-val), then Set5 and Set14 for the record. K architectures: FALSR-B-res,
FALSR-C-res, t291-NAS-B's network and random members of the paper's space (image-level residual, as the
search makes them), at least 10 of them in 20G–100G mult-adds and the rest spread over 3G–250G; a second
seed of the first few gives the seed-noise ceiling.

Stages (each resumable: rows stream to OUT/*.jsonl, a killed run continues where it stopped; a killed
`falsr train` resumes from its checkpoint):
  plan       choose the architectures once and write OUT/plan.json (kept: later changes to the space do not
             change the study)
  reference  full trainings, in plan order, one `falsr train` process at a time (2 threads beat two
             1-thread processes here: 6.0 vs 2×2.8 steps/s for FALSR-B-res)
  brief      the search's evaluators on the same architectures (see --budgets)
  report     τ, ρ and precision@4 of every evaluator against the reference, CPU seconds per candidate

    .venv/bin/python benchmarks/evaluator_fidelity.py plan|reference|brief|report [--out runs/fidelity]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl, write_json  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_model  # noqa: E402

# The shipped recipe (Makefile, pretrained-%): what every t291-* model was trained with.
RECIPE = ["--data", "T91,BSDS200-train", "--steps", "12000", "--patch", "64", "--val-every", "1000",
          "--ckpt-every", "500"]
NAS_B = ("x2-f32-res:conv_f64_k3_b2_noskip,group4_f48_k3_b2_noskip,group4_f48_k3_b1_skip,"
         "group4_f64_k1_b1_noskip,invbot_f16_k1_b1_noskip,conv_f16_k1_b4_noskip,group4_f64_k3_b2_noskip:"
         "1011010001111101001111010111")
FALSR = [sys.executable, "-m", "falsr_cli"]


def cpu_name() -> str:
    """The model name with family/model numbers: 'AMD EPYC' alone does not tell Zen 4 from Zen 5."""
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        k, _, v = line.partition(":")
        fields.setdefault(k.strip(), v.strip())
    return f"{cpu_model()} (family {fields.get('cpu family')}, model {fields.get('model')})"


def make_plan(seed: int) -> list[dict]:
    """FALSR-B-res, FALSR-C-res, NAS-B, 8 random members log-spread over 20G–100G, 2 over 3G–20G, 2 over
    100G–250G, FALSR-A-res; then second seeds of six band members. Ordered so an early stop leaves the
    band."""
    import numpy as np

    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.space.architecture import Architecture, load_architecture

    rng = np.random.default_rng(seed)
    pool = [Architecture.random(rng, n=7, residual=True) for _ in range(6000)]
    g = np.array([mult_adds(a) / 1e9 for a in pool])

    def spread(lo: float, hi: float, k: int, tag: str) -> list[tuple[str, Architecture]]:
        edges = np.geomspace(lo, hi, k + 1)
        out = []
        for b in range(k):
            inside = np.flatnonzero((g >= edges[b]) & (g < edges[b + 1]))
            out.append((f"{tag}-{b}", pool[int(inside[rng.integers(len(inside))])]))
        return out

    band = [("FALSR-B-res", load_architecture("FALSR-B-res")),
            ("FALSR-C-res", load_architecture("FALSR-C-res")),
            ("NAS-B", load_architecture(NAS_B)), *spread(20, 100, 8, "band")]
    rest = [*spread(3, 20, 2, "small"), *spread(100, 250, 2, "large"),
            ("FALSR-A-res", load_architecture("FALSR-A-res"))]
    rows = [{"name": n, "text": a.to_text(), "hash": a.hash(), "mult_adds": mult_adds(a), "params": params(a),
             "seed": 0} for n, a in band + rest]
    # Second seeds: the band's members spread over its range (every other one by mult-adds).
    by_cost = sorted(rows[: len(band)], key=lambda r: r["mult_adds"])
    rows += [{**r, "seed": 1} for r in by_cost[::2][:6]]
    return rows


def job_name(row: dict) -> str:
    return f"{row['name']}-s{row['seed']}"


def reference(out: Path, plan: list[dict], runs: Path, only: str | None) -> None:
    journal = out / "reference.jsonl"
    done = {(r["hash"], r["seed"]) for r in read_jsonl(journal)}
    for row in plan:
        if (row["hash"], row["seed"]) in done or (only and row["name"] not in only.split(",")):
            continue
        run = runs / job_name(row)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        resumed = (run / "config.json").is_file()
        print(f"{time.strftime('%H:%M:%S')} train {job_name(row)} {row['mult_adds'] / 1e9:.1f}G "
              f"{'(resuming)' if resumed else ''}", flush=True)
        subprocess.run([*FALSR, "train", "--arch", row["text"], *RECIPE, "--seed", str(row["seed"]),
                        "--out", str(run), "-q", "--json"], check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        scores = {}
        for ds in ("Set5", "Set14"):
            r = subprocess.run([*FALSR, "evaluate", "--dataset", ds, "--model", str(run), "--engine", "tf",
                                "--json", "-"], check=True, capture_output=True, text=True)
            s = json.loads(r.stdout)
            scores[ds] = {"psnr": s["psnr"], "ssim": s["ssim"]}
        metrics = read_jsonl(run / "metrics.jsonl")
        curve = [{"step": m["step"], "psnr": m["val_psnr"], "ssim": m["val_ssim"]} for m in metrics
                 if m.get("val_psnr") is not None]
        losses = [{"step": m["step"], "loss": m["loss"]} for m in metrics if m.get("loss") is not None]
        best = max(curve, key=lambda c: c["psnr"])
        append_jsonl(journal, {
            **row, "run": str(run), "val_best": best["psnr"], "val_best_step": best["step"],
            "val_final": curve[-1]["psnr"], "curve": curve, "losses": losses, "scores": scores,
            "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "wall_seconds": time.perf_counter() - t0, "resumed": resumed, "cpu": cpu_name(),
            "cpu_flags": cpu_flags()})
        print(f"   val {best['psnr']:.4f} Set5 {scores['Set5']['psnr']:.4f} "
              f"Set14 {scores['Set14']['psnr']:.4f} in {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["plan", "reference", "brief", "report"])
    ap.add_argument("--out", default="runs/fidelity")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma-separated plan names (reference stage)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.json"
    if args.stage == "plan" or not plan_file.is_file():
        if plan_file.is_file():
            sys.exit(f"{plan_file} exists: the plan is chosen once")
        write_json(plan_file, {"seed": args.seed, "cpu": cpu_name(), "architectures": make_plan(args.seed)})
        if args.stage == "plan":
            for r in json.loads(plan_file.read_text())["architectures"]:
                print(f"{job_name(r):16s} {r['mult_adds'] / 1e9:7.1f}G {r['params'] / 1e3:7.1f}k  "
                      f"{r['text']}")
            return
    plan = json.loads(plan_file.read_text())["architectures"]
    if args.stage == "reference":
        reference(out, plan, out / "runs", args.only)


if __name__ == "__main__":
    main()
