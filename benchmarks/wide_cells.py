"""Which wide-space cells pay at equal mult-adds? Uniform networks of one cell type each, trained alike.

Each network is a chain of cells of one type (the upsampler reads the last), with the image-level residual,
sized to about 70G mult-adds at 480×480 (FALSR-B has 74.5G): the paper's plain conv, `esa`, `pa`, and
`bsconv` (ten cells: a blueprint-separable block is cheap), with FALSR-B-res as the control. All are
trained with `falsr train`'s recipe (Adam 1e-3, warm-up, cosine over the run, he-zero, precision auto) for
`--steps` steps from seed 0 on T91 + BSDS200-train and scored on the held-out BSDS200-val. Rows stream to
OUT/wide-cells.jsonl (a killed run resumes).

    .venv/bin/python benchmarks/wide_cells.py [--steps 2000] [--out runs/wide-cells]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl  # noqa: E402
from falsr_cli.cost.cost_model import mult_adds, params  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_model  # noqa: E402
from falsr_cli.space.architecture import Architecture, load_architecture  # noqa: E402


def chain(cell: str, n: int) -> Architecture:
    """n cells of one kind, each reading the previous; the upsampler reads the last."""
    return Architecture.from_sources([cell] * n, [[t - 1] for t in range(1, n + 2)], residual=True)


NETWORKS: dict[str, Architecture] = {
    "FALSR-B-res": load_architecture("FALSR-B-res"),
    "conv-f48-b2": chain("conv_f48_k3_b2_skip", 7),
    "esa-f48-b2": chain("esa_f48_k3_b2_skip", 7),
    "pa-f48-b2": chain("pa_f48_k3_b2_skip", 7),
    "bsconv-f64-k7-b4": chain("bsconv_f64_k7_b4_skip", 10),
}


def main() -> None:
    from falsr_cli.train.brief import train_and_validate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--only", default=None, help="comma-separated network names")
    ap.add_argument("--out", default="runs/wide-cells")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "wide-cells.jsonl"
    done = {(r["name"], r["steps"]) for r in read_jsonl(journal)}
    for name, arch in NETWORKS.items():
        if (name, args.steps) in done or (args.only and name not in args.only.split(",")):
            continue
        t0 = time.process_time()
        r = train_and_validate(arch, data="T91,BSDS200-train", val="BSDS200-val", steps=args.steps, seed=0)
        row = {"name": name, "text": arch.to_text(), "steps": args.steps, "mult_adds": mult_adds(arch),
               "params": params(arch), "psnr": r["psnr"], "ssim": r["ssim"], "loss": r["loss"],
               "cpu_seconds": time.process_time() - t0, "cpu": cpu_model(), "cpu_flags": cpu_flags()}
        append_jsonl(journal, row)
        print(f"{name:18s} {row['mult_adds'] / 1e9:5.1f}G {row['params'] / 1e3:6.1f}k  {row['psnr']:.4f} dB",
              flush=True)
    rows = sorted((r for r in read_jsonl(journal) if r["steps"] == args.steps), key=lambda r: -r["psnr"])
    base = next((r["psnr"] for r in rows if r["name"] == "FALSR-B-res"), None)
    print(f"\n{args.steps} steps, BSDS200-val, {cpu_model()}")
    for r in rows:
        delta = "" if base is None else f"  {r['psnr'] - base:+.3f} vs FALSR-B-res"
        print(f"{r['name']:18s} {r['mult_adds'] / 1e9:5.1f}G {r['params'] / 1e3:6.1f}k  "
              f"{r['psnr']:.4f}{delta}")


if __name__ == "__main__":
    main()
