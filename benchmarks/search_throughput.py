"""Search throughput: candidates evaluated per hour with 1 and 2 local Dask workers, and where time goes.

The same K random candidates (cost-feasible, distinct) are evaluated by the search's Evaluator with the real
incomplete training (`train_and_validate`), first on a LocalCluster of one worker process, then of two, as
`falsr search --workers N` would. Each worker is warmed up first (TensorFlow start, data decoding, one
training) so that the figures are the steady state of a long search.

Wall time × workers is split into: training (the steps, including the train step's graph trace, as the
trainer times it), validation (full-image PSNR), the rest of each task (building the model, seeding,
returning the result) and outside the tasks (scheduling, journalling, waiting for the last task).

Usage: .venv/bin/python benchmarks/search_throughput.py [--candidates 8] [--steps 20] [--n 3]
Prints evaluations per hour for 1 and 2 workers, their ratio, and the time shares.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _warm_up(data: str, val: str, steps: int, patch: int, batch: int) -> str:
    """On a worker: start TensorFlow, decode the data, train one small network."""
    from falsr_cli.space.architecture import PRESETS
    from falsr_cli.train.brief import train_and_validate

    train_and_validate(PRESETS["FALSR-C"], data=data, val=val, steps=steps, seed=0, batch=batch, patch=patch)
    return "warm"


def measure(workers: int, X, args: argparse.Namespace, root: Path) -> dict:
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.evaluator import Evaluator
    from falsr_cli.search.journal import Journal
    from falsr_cli.search.problem import FalsrProblem
    from falsr_cli.search.workers import DaskPool

    cfg = resolve_config({"evaluator": "brief", "n": args.n, "train_steps": args.steps, "patch": args.patch,
                          "batch": args.batch, "lr": 1e-3, "data": args.data, "val": args.val,
                          "workers": workers, "out": str(root / f"w{workers}")})
    pool = DaskPool(workers=workers)
    try:
        pool.client.run(_warm_up, args.data, args.val, args.steps, args.patch, args.batch)
        evaluator = Evaluator(FalsrProblem(cfg), Journal(cfg.out), lambda: pool, own_pool=False)
        t0 = time.perf_counter()
        records = evaluator.evaluate(X, generation=1)
        wall = time.perf_counter() - t0
    finally:
        pool.close()
    ok = [r for r in records if r["status"] == "ok"]
    train = sum(r["train_seconds"] for r in ok)
    val = sum(r["eval_seconds"] for r in ok)
    task = sum(r["wall_seconds"] for r in records)
    capacity = wall * workers
    return {"workers": workers, "wall": wall, "evals": len(records), "failed": len(records) - len(ok),
            "per_hour": 3600 * len(records) / wall, "train": train / capacity, "val": val / capacity,
            "in_task_other": (task - train - val) / capacity, "outside": (capacity - task) / capacity}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--data", default="samples")
    ap.add_argument("--val", default="samples")
    ap.add_argument("--flops-max", default="30G", help="candidates are drawn under this budget")
    args = ap.parse_args()

    import numpy as np

    from falsr_cli.search.config import parse_count, resolve_config
    from falsr_cli.search.problem import FalsrProblem
    from falsr_cli.space.architecture import Architecture

    problem = FalsrProblem(resolve_config({"n": args.n}))
    budget = parse_count(args.flops_max, "flops_max")
    rng = np.random.default_rng(0)
    genomes: dict[str, list[int]] = {}
    while len(genomes) < args.candidates:
        arch = Architecture.random(rng, n=args.n)
        if problem.costs(arch.genome())[0] <= budget:
            genomes[arch.hash()] = arch.genome()
    X = np.array(list(genomes.values()))

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            results.append(measure(workers, X, args, Path(tmp)))
    print(f"search throughput: {args.candidates} candidates, n {args.n}, {args.steps} steps of batch "
          f"{args.batch} on {args.patch}-px patches of {args.data}, validated on {args.val}; "
          f"{os.cpu_count()} CPU cores")
    for r in results:
        print(f"  {r['workers']} worker(s): {r['per_hour']:.0f} evaluations/hour ({r['evals']} in "
              f"{r['wall']:.1f} s, {r['failed']} failed); of wall × workers: training {r['train']:.0%}, "
              f"validation {r['val']:.0%}, model building and other in-task {r['in_task_other']:.0%}, "
              f"outside tasks (scheduling, journal, waiting) {r['outside']:.0%}")
    print(f"  ratio 2 workers / 1 worker: {results[1]['per_hour'] / results[0]['per_hour']:.3f}")


if __name__ == "__main__":
    main()
