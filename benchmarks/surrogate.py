"""A surrogate of the brief evaluator fitted on real evaluations, for comparing search algorithms cheaply.

Ridge regression of the held-out PSNR after incomplete training on features of the architecture alone
(log mult-adds, log params, the share of each cell type, mean filters, the share of 3×3 kernels, mean
blocks, the share of skips, the density of connections), fitted on journal rows that share one training
budget (the proxy-fidelity study's and a real search's evaluations.jsonl). Its leave-one-out error is
reported; `evaluate` adds Gaussian noise of the fit's residual spread, seeded per candidate, as the real
evaluator's seed-to-seed spread would.

    .venv/bin/python benchmarks/surrogate.py JOURNAL.jsonl [...] --steps 200 --out surrogate.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RIDGE = 1.0


def features(arch: Any) -> np.ndarray:
    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.space.cells import CELL_TYPES

    cells = arch.cells
    n = len(cells)
    bits = arch.connections
    return np.array([
        math.log(mult_adds(arch)), math.log(params(arch)),
        *[sum(c.type == t for c in cells) / n for t in CELL_TYPES[1:]],
        sum(c.filters for c in cells) / (64 * n), sum(c.kernel == 3 for c in cells) / n,
        sum(c.blocks for c in cells) / (4 * n), sum(c.skip for c in cells) / n,
        sum(bits) / max(len(bits), 1),
    ], dtype=np.float64)


def _solve(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    A = np.hstack([np.ones((len(X), 1)), X])
    reg = RIDGE * np.eye(A.shape[1])
    reg[0, 0] = 0.0  # the intercept is not shrunk
    return np.linalg.solve(A.T @ A + reg, A.T @ y)


def fit(rows: list[dict]) -> dict[str, Any]:
    """The fitted model as JSON-able data: standardisation, coefficients, residual and LOO errors."""
    from falsr_cli.space.architecture import load_architecture

    X = np.array([features(load_architecture(r["text"])) for r in rows])
    y = np.array([float(r["psnr"]) for r in rows])
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = (X - mean) / std
    coef = _solve(Z, y)
    resid = y - (coef[0] + Z @ coef[1:])
    loo = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        c = _solve(Z[keep], y[keep])
        loo.append(y[i] - (c[0] + Z[i] @ c[1:]))
    from falsr_cli.search.ranking import kendall_tau

    return {"coef": coef.tolist(), "mean": mean.tolist(), "std": std.tolist(), "n": len(y),
            "residual_sd": float(resid.std()), "loo_rmse": float(np.sqrt(np.mean(np.square(loo)))),
            "loo_kendall_tau": kendall_tau(list(y - np.array(loo)), list(y)),
            "psnr_range": [float(y.min()), float(y.max())]}


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def predict(arch: Any, model: dict[str, Any]) -> float:
    z = (features(arch) - np.array(model["mean"])) / np.array(model["std"])
    c = np.array(model["coef"])
    return float(c[0] + z @ c[1:])


def evaluate(arch: Any, *, seed: int = 0, model: str, **_: Any) -> dict[str, float]:
    """A search evaluator ("surrogate:evaluate" with evaluator_options {"model": PATH})."""
    m = _load(model)
    noise = np.random.default_rng(seed).normal(0.0, m["residual_sd"])
    return {"psnr": predict(arch, m) + float(noise), "ssim": float("nan"), "train_seconds": 0.0,
            "eval_seconds": 0.0}


def journal_rows(paths: list[str], steps: int) -> list[dict]:
    """Rows with a PSNR after `steps` training steps: the proxy study's (field steps) and a search's (all of
    one budget: pass the search's --train-steps), one per architecture."""
    from falsr_cli.atomic import read_jsonl

    rows: dict[str, dict] = {}
    for p in paths:
        for r in read_jsonl(p):
            if r.get("psnr") is None or r.get("status", "ok") != "ok":
                continue
            if "steps" in r and int(r["steps"]) != steps:
                continue
            rows.setdefault(r["text"], r)
    return list(rows.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("journals", nargs="+")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", default="surrogate.json")
    args = ap.parse_args()
    rows = journal_rows(args.journals, args.steps)
    model = fit(rows)
    Path(args.out).write_text(json.dumps(model, indent=2) + "\n")
    print(f"{model['n']} evaluations at {args.steps} steps: residual sd {model['residual_sd']:.3f} dB, "
          f"leave-one-out RMSE {model['loo_rmse']:.3f} dB, LOO Kendall tau {model['loo_kendall_tau']:.3f}; "
          f"wrote {args.out}")


if __name__ == "__main__":
    main()
