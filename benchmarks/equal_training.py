"""Equal training (issue 22): networks and training levers under FALSR-B's budget against FALSR-B-res, each
trained with the shipped recipe (`falsr train`'s defaults, 12,000 steps, T91 + BSDS200-train, seed 0 unless
--seeds says more) plus the entry's own `falsr train` options.

The training and scoring are the evaluator study's reference stage (benchmarks/evaluator_fidelity.py), so
FALSR-B-res from that study, at the row's seed (the study trained it at seeds 0 and 1), is the control: same
recipe, precision, init and seed. Rows stream to OUT/reference.jsonl; a killed run resumes from its last
checkpoint.

    .venv/bin/python benchmarks/equal_training.py [--only pa-f48-b2x7] [--seeds 0,1] [--out runs/equal] \
        [--control runs/fidelity/reference.jsonl] [--report]

The report also places every row against the size envelope of the evaluator study's full trainings (the
paper's space, 20G and up): the line of BSDS200-val over log10 mult-adds, fitted by least squares. Its slope
says what a target in dB is worth in mult-adds at this recipe, and a row's distance above it (in units of
the envelope's residual spread) what its architecture or lever gives beyond its size.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluator_fidelity import reference  # noqa: E402
from wide_cells import chain  # noqa: E402

from falsr_cli.atomic import read_jsonl  # noqa: E402
from falsr_cli.cost.cost_model import mult_adds, params  # noqa: E402
from falsr_cli.space.architecture import Architecture, load_architecture  # noqa: E402

ENVELOPE_FROM = 20e9  # mult-adds: the band the budget sits in (the smallest networks bend the line)
TARGET_DB = 0.2  # issue 22's equal-training target over FALSR-B-res


def envelope(rows: list[dict]) -> tuple[float, float, float]:
    """(slope in dB per decade of mult-adds, intercept, residual standard deviation) of BSDS200-val."""
    used = [r for r in rows if r["mult_adds"] >= ENVELOPE_FROM]
    x = np.log10([r["mult_adds"] for r in used])
    y = np.array([r["val_best"] for r in used])
    slope, icept = np.polyfit(x, y, 1)
    return float(slope), float(icept), float(np.std(y - (slope * x + icept), ddof=2))


SEARCH_W_K10 = ("x2-f32-res:group2_f16_k3_b1_noskip,group2_f16_k3_b1_noskip,group2_f16_k3_b1_noskip,"
                "group2_f16_k3_b1_noskip,pa_f48_k3_b4_skip,group2_f16_k3_b1_noskip,group2_f16_k3_b1_noskip:"
                "1100011111100000110011110001")

# name: (architecture, extra `falsr train` options). FALSR-B-res's cost is the ceiling: 74,525,184,000
# mult-adds at 480×480 and 324,745 parameters.
ENTRIES: dict[str, tuple[Architecture, list[str]]] = {
    # The wide search's most accurate front member (`make search-cpu-W`, closed after 3 generations:
    # pareto.json#10, 31.856 dB at its 2000-step rung; 2026-12-04, Intel Sapphire Rapids).
    "search-W-k10": (load_architecture(SEARCH_W_K10), []),
    # The same member scaled by hand to FALSR-B's budget: every group2 cell at 48 features, as its pa cell
    # (74.48G mult-adds, 323,513 params), since at 30.4G it sat above the size envelope.
    "search-W-k10-f48": (load_architecture(SEARCH_W_K10.replace("group2_f16", "group2_f48")), []),
    "pa-f48-b2x7": (chain("pa_f48_k3_b2_skip", 7), []),
    "esa-f48-b2x7": (chain("esa_f48_k3_b2_skip", 7), []),
    "FALSR-B-res+reparam": (load_architecture("FALSR-B-res"), ["--reparam"]),
    "FALSR-B-res+scale-aug": (load_architecture("FALSR-B-res"), ["--scale-aug", "0.9,0.8,0.7,0.6"]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated entry names")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds to train each entry at")
    ap.add_argument("--out", default="runs/equal")
    ap.add_argument("--control", default="runs/fidelity/reference.jsonl",
                    help="the evaluator study's reference rows (FALSR-B-res-s0 is the control)")
    ap.add_argument("--report", action="store_true", help="print the table of the rows done; train nothing")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ceiling = load_architecture("FALSR-B-res")
    seeds = [int(s) for s in args.seeds.split(",")]
    plan = []
    for name, (arch, train_args) in ENTRIES.items():
        if mult_adds(arch) > mult_adds(ceiling) or params(arch) > params(ceiling):
            sys.exit(f"{name} is over FALSR-B-res's mult-adds or parameters")
        plan += [{"name": name, "text": arch.to_text(), "hash": f"{arch.hash()}{''.join(train_args)}",
                  "train_args": train_args, "mult_adds": mult_adds(arch), "params": params(arch),
                  "seed": seed} for seed in seeds]
    if not args.report:
        reference(out, plan, out / "runs", args.only)
    references = read_jsonl(Path(args.control))
    controls = {r["seed"]: r for r in references if r["name"] == "FALSR-B-res"}
    trained = list(read_jsonl(out / "reference.jsonl"))
    rows = [controls[s] for s in sorted({r["seed"] for r in trained} | {0}) if s in controls] + trained
    print("\n12,000 steps, shipped recipe, each row against FALSR-B-res at its seed (each row names its CPU; "
          "quality at a fixed step count does not depend on it)")
    slope, icept, spread = envelope(references)

    def above(r: dict) -> float:
        return r["val_best"] - (slope * math.log10(r["mult_adds"]) + icept)

    def score(r: dict, key: str) -> float:
        return r["val_best"] if key == "val" else r["scores"][key]["psnr"]

    def gain(r: dict, key: str) -> float | None:
        """The row's gain over FALSR-B-res at its seed, on BSDS200-val ("val") or on a test set."""
        c = controls.get(r["seed"])
        return None if c is None else score(r, key) - score(c, key)

    print(f"{'network':22s} {'seed':>4s} {'mult-adds':>9s} {'params':>8s} {'BSDS200-val':>11s} {'Set5':>8s} "
          f"{'Set14':>8s} {'above envelope':>15s}")
    for r in rows:
        d = "" if gain(r, "val") is None or r in controls.values() else (
            f"  Δval {gain(r, 'val'):+.3f}  ΔSet14 {gain(r, 'Set14'):+.3f}")
        print(f"{r['name']:22s} {r['seed']:4d} {r['mult_adds'] / 1e9:8.1f}G {r['params'] / 1e3:7.1f}k "
              f"{r['val_best']:11.4f} "
              f"{r['scores']['Set5']['psnr']:8.4f} {r['scores']['Set14']['psnr']:8.4f} "
              f"{above(r):+9.3f} ({above(r) / spread:+.1f}σ){d}  [{r.get('cpu', '?')}]")
    for name in ENTRIES:  # an entry trained at several seeds: its mean gain over the same seeds' controls
        paired = [r for r in trained if r["name"] == name and gain(r, "val") is not None]
        if len(paired) > 1:
            means = {k: float(np.mean([gain(r, k) for r in paired])) for k in ("val", "Set5", "Set14")}
            seeds_done = ",".join(str(r["seed"]) for r in paired)
            print(f"{name}, mean of seeds {seeds_done}: Δval {means['val']:+.3f}  "
                  f"ΔSet5 {means['Set5']:+.3f}  ΔSet14 {means['Set14']:+.3f}")
    used = [r for r in references if r["mult_adds"] >= ENVELOPE_FROM]
    best = max(used, key=above)
    print(f"\nsize envelope over {len(used)} full trainings ≥ {ENVELOPE_FROM / 1e9:.0f}G of the evaluator "
          f"study: BSDS200-val = {slope:.3f} dB per decade of mult-adds (+{slope * math.log10(2):.3f} per "
          f"doubling), residual σ {spread:.3f} dB, highest above it {best['name']} seed {best['seed']} "
          f"{above(best):+.3f}; +{TARGET_DB} dB at equal mult-adds is what {10 ** (TARGET_DB / slope):.1f}× "
          f"the mult-adds give on it ({TARGET_DB / spread:.1f}σ above it)")

if __name__ == "__main__":
    main()
