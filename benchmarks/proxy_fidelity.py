"""Proxy fidelity: does brief training rank architectures as longer training does? Kendall τ and Spearman ρ.

The search scores each candidate after a few hundred steps (`falsr_cli.train.brief.train_and_validate`,
the search's own recipe and data: T91 + BSDS200-train, PSNR on the held-out BSDS200-val). FALSR assumes
that this incomplete training preserves the order of the networks. This measures it: K architectures —
FALSR-A/B/C and random members of the space spread evenly over log mult-adds (fixed seed), all with the
search's default image-level residual — are trained at several brief budgets and at a long reference
budget, each from the same seed; for each brief budget it reports τ and ρ of the held-out PSNRs against
the reference, and the seconds a candidate costs at that budget.

Results stream to OUT/fidelity.jsonl (one line per architecture and budget), so a killed run resumes where
it stopped and the study can be run in several sittings; at the end OUT/fidelity.json and a scatter plot
OUT/fidelity.png. The cheapest budget whose τ against the reference is ≥ 0.7 is the suggested default for
`--train-steps` (else the best τ found).

    .venv/bin/python benchmarks/proxy_fidelity.py [--k 16] [--budgets 50,100,200,400] [--reference 2000]
        [--out runs/proxy_fidelity]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_model  # noqa: E402
from falsr_cli.search.ranking import kendall_tau, spearman_rho  # noqa: E402


def architectures(k: int, seed: int, n: int, residual: bool) -> list[tuple[str, object]]:
    """FALSR-A/B/C and k − 3 random members, one per equal-width bin of log mult-adds (fixed seed)."""
    import numpy as np

    from falsr_cli.cost.cost_model import mult_adds
    from falsr_cli.space.architecture import PRESETS, Architecture

    chosen = [(name, arch.with_residual(residual)) for name, arch in PRESETS.items()]
    rng = np.random.default_rng(seed)
    pool = [Architecture.random(rng, n=n, residual=residual) for _ in range(4000)]
    logs = np.log10([mult_adds(a) for a in pool])
    edges = np.linspace(logs.min(), logs.max(), k - len(chosen) + 1)
    for b in range(k - len(chosen)):
        inside = [i for i in range(len(pool)) if edges[b] <= logs[i] <= edges[b + 1]]
        if inside:
            a = pool[inside[int(rng.integers(len(inside)))]]
            chosen.append((f"random-{b}", a))
    return chosen


def main() -> None:
    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.search.config import SearchConfig
    from falsr_cli.search.evaluator import evaluation_seed
    from falsr_cli.train.brief import train_and_validate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--budgets", default="50,100,200,400")
    ap.add_argument("--reference", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="runs/proxy_fidelity")
    args = ap.parse_args()

    cfg = SearchConfig()  # the search's own recipe, data and held-out validation
    budgets = sorted({int(b) for b in args.budgets.split(",")} | {args.reference})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "fidelity.jsonl"
    archs = architectures(args.k, args.seed, cfg.n, cfg.residual)
    done = {(r["hash"], r["steps"]) for r in read_jsonl(journal)}
    for steps in budgets:  # cheap budgets first: a partial study already answers for them
        for name, arch in archs:
            if (arch.hash(), steps) in done:
                continue
            r = train_and_validate(arch, data=cfg.data, val=cfg.val, steps=steps,
                                   seed=evaluation_seed(args.seed, arch.hash()), batch=cfg.batch,
                                   patch=cfg.patch, lr=cfg.lr, schedule=cfg.schedule, data_dir=args.data_dir)
            row = {"name": name, "hash": arch.hash(), "text": arch.to_text(), "steps": steps,
                   "mult_adds": mult_adds(arch), "params": params(arch), "psnr": r["psnr"], "ssim": r["ssim"],
                   "seconds": r["train_seconds"] + r["eval_seconds"], "cpu": cpu_model()}
            append_jsonl(journal, row)
            print(f"{steps:5d} steps  {name:10s} {row['psnr']:.3f} dB  {row['seconds']:.0f} s", flush=True)

    rows = read_jsonl(journal)
    psnr = {(r["hash"], r["steps"]): r["psnr"] for r in rows}
    secs = {(r["hash"], r["steps"]): r["seconds"] for r in rows}
    hashes = [a.hash() for _, a in archs]
    ref = [psnr[(h, args.reference)] for h in hashes]
    table = []
    for steps in budgets:
        if steps == args.reference:
            continue
        brief = [psnr[(h, steps)] for h in hashes]
        table.append({"steps": steps, "kendall_tau": kendall_tau(brief, ref),
                      "spearman_rho": spearman_rho(brief, ref),
                      "seconds_per_candidate": sum(secs[(h, steps)] for h in hashes) / len(hashes)})
    good = [t for t in table if t["kendall_tau"] >= 0.7]
    pick = min(good, key=lambda t: t["steps"]) if good else max(table, key=lambda t: t["kendall_tau"])
    summary = {"k": len(archs), "reference_steps": args.reference, "recipe": {
        "data": cfg.data, "val": cfg.val, "batch": cfg.batch, "patch": cfg.patch, "lr": cfg.lr,
        "schedule": cfg.schedule, "residual": cfg.residual}, "cpu": cpu_model(), "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(), "budgets": table, "suggested_train_steps": pick["steps"],
        "suggestion_meets_tau_0_7": bool(good),
        "reference_seconds_per_candidate": sum(secs[(h, args.reference)] for h in hashes) / len(hashes)}
    (out / "fidelity.json").write_text(json.dumps(summary, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(table), figsize=(4 * len(table), 4), squeeze=False)
    for ax, t in zip(axes[0], table, strict=True):
        ax.scatter(ref, [psnr[(h, t["steps"])] for h in hashes], s=14)
        ax.set_title(f"{t['steps']} steps: τ {t['kendall_tau']:.2f}, ρ {t['spearman_rho']:.2f}")
        ax.set_xlabel(f"PSNR after {args.reference} steps (BSDS200-val)")
        ax.set_ylabel("PSNR after the brief budget")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "fidelity.png", dpi=110)
    plt.close(fig)

    print(f"\nK = {len(archs)} architectures, reference {args.reference} steps, {cpu_model()} "
          f"({os.cpu_count()} cores)")
    print(f"{'steps':>6} {'tau':>6} {'rho':>6} {'s/candidate':>12}")
    for t in table:
        print(f"{t['steps']:6d} {t['kendall_tau']:6.3f} {t['spearman_rho']:6.3f} "
              f"{t['seconds_per_candidate']:12.1f}")
    print(f"{args.reference:6d} {'(ref)':>6} {'':>6} {summary['reference_seconds_per_candidate']:12.1f}")
    print(f"suggested --train-steps: {pick['steps']}" + ("" if good else " (no budget reached tau 0.7)"))
    print(f"wrote {out / 'fidelity.json'} and {out / 'fidelity.png'}")


if __name__ == "__main__":
    main()
