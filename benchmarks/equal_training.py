"""Equal training (issue 22): networks and training levers under FALSR-B's budget against FALSR-B-res, each
trained with the shipped recipe (`falsr train`'s defaults, 12,000 steps, T91 + BSDS200-train, seed 0) plus
the entry's own `falsr train` options.

The training and scoring are the evaluator study's reference stage (benchmarks/evaluator_fidelity.py), so
FALSR-B-res-s0 from that study is the control: same recipe, precision, init and seed. Rows stream to
OUT/reference.jsonl; a killed run resumes from its last checkpoint.

    .venv/bin/python benchmarks/equal_training.py [--only pa-f48-b2x7] [--out runs/equal] \
        [--control runs/fidelity/reference.jsonl]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluator_fidelity import reference  # noqa: E402
from wide_cells import chain  # noqa: E402

from falsr_cli.atomic import read_jsonl  # noqa: E402
from falsr_cli.cost.cost_model import mult_adds, params  # noqa: E402
from falsr_cli.space.architecture import Architecture, load_architecture  # noqa: E402

# name: (architecture, extra `falsr train` options). FALSR-B-res's cost is the ceiling: 74,525,184,000
# mult-adds at 480×480 and 324,745 parameters.
ENTRIES: dict[str, tuple[Architecture, list[str]]] = {
    "pa-f48-b2x7": (chain("pa_f48_k3_b2_skip", 7), []),
    "esa-f48-b2x7": (chain("esa_f48_k3_b2_skip", 7), []),
    "FALSR-B-res+reparam": (load_architecture("FALSR-B-res"), ["--reparam"]),
    "FALSR-B-res+scale-aug": (load_architecture("FALSR-B-res"), ["--scale-aug", "0.9,0.8,0.7,0.6"]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated entry names")
    ap.add_argument("--out", default="runs/equal")
    ap.add_argument("--control", default="runs/fidelity/reference.jsonl",
                    help="the evaluator study's reference rows (FALSR-B-res-s0 is the control)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ceiling = load_architecture("FALSR-B-res")
    plan = []
    for name, (arch, train_args) in ENTRIES.items():
        if mult_adds(arch) > mult_adds(ceiling) or params(arch) > params(ceiling):
            sys.exit(f"{name} is over FALSR-B-res's mult-adds or parameters")
        plan.append({"name": name, "text": arch.to_text(), "hash": f"{arch.hash()}{''.join(train_args)}",
                     "train_args": train_args, "mult_adds": mult_adds(arch), "params": params(arch),
                     "seed": 0})
    reference(out, plan, out / "runs", args.only)
    control = next((r for r in read_jsonl(Path(args.control))
                    if r["name"] == "FALSR-B-res" and r["seed"] == 0), None)
    rows = ([control] if control else []) + list(read_jsonl(out / "reference.jsonl"))
    print(f"\n12,000 steps, shipped recipe, seed 0; {rows[0]['cpu'] if rows else ''}")
    print(f"{'network':22s} {'mult-adds':>9s} {'params':>8s} {'BSDS200-val':>11s} {'Set5':>8s} {'Set14':>8s}")
    for r in rows:
        d = "" if control is None or r is control else (
            f"  Δval {r['val_best'] - control['val_best']:+.3f}  "
            f"ΔSet14 {r['scores']['Set14']['psnr'] - control['scores']['Set14']['psnr']:+.3f}")
        print(f"{r['name']:22s} {r['mult_adds'] / 1e9:8.1f}G {r['params'] / 1e3:7.1f}k {r['val_best']:11.4f} "
              f"{r['scores']['Set5']['psnr']:8.4f} {r['scores']['Set14']['psnr']:8.4f}{d}")


if __name__ == "__main__":
    main()
