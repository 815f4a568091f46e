"""What a search reports: the Pareto front, its hypervolume, pareto.json, pareto.png and history.png.

The front is the set of feasible, successfully trained candidates that no other one dominates in
(PSNR up, mult-adds down, params down), over every evaluation of the search so far.

Hypervolume: of the front in the space (−PSNR [dB], mult-adds / M_ref, params / Q_ref) up to the reference
point (−P_ref, 1, 1), where P_ref is --psnr-min (else `hv_psnr_ref`, 20 dB by default), M_ref is
--flops-max (else the mult-adds of the heaviest network of the space: its costliest cell in all n places,
every connection on) and Q_ref likewise for params. Its unit is dB (times two fractions); a front member
worse than the reference point in any coordinate adds nothing. It is computed on PSNR also when the
objective is MSE.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from falsr_cli.atomic import atomic_path, read_json
from falsr_cli.cost.cost_model import mult_adds, params
from falsr_cli.errors import FalsrError
from falsr_cli.search.config import SearchConfig
from falsr_cli.search.problem import OK, FalsrProblem, non_dominated
from falsr_cli.space.architecture import Architecture, num_bits
from falsr_cli.space.cells import DEFAULT_SPACE, space_cells
from falsr_cli.units import format_count

PARETO_FORMAT = "falsr-pareto"


# ---- the front and its hypervolume -------------------------------------------------------------------


def _points(records: list[dict], speed: str = "mult_adds") -> np.ndarray:
    return np.array([[-r["psnr"], r[speed], r["params"]] for r in records], dtype=float).reshape(-1, 3)


def update_front(front: list[dict], new: list[dict], problem: FalsrProblem) -> list[dict]:
    """The non-dominated feasible records of front ∪ new (one record per architecture), by mult-adds."""
    seen = {r["hash"] for r in front}
    pool = list(front)
    for r in new:
        if r["hash"] not in seen and problem.is_feasible(r):
            pool.append(r)
            seen.add(r["hash"])
    if not pool:
        return []
    keep = non_dominated(_points(pool, problem.config.speed_key))
    return sorted((pool[i] for i in keep), key=lambda r: (r["mult_adds"], -r["psnr"], r["hash"]))


@lru_cache(maxsize=16)
def space_max_costs(n: int, scale: int, features: int, space: str = DEFAULT_SPACE) -> tuple[float, float]:
    """(mult-adds, params) of the space's heaviest network: the costliest cell everywhere, all bits on."""
    best = (0.0, 0.0)
    for cell in space_cells(space):
        if cell.blocks != 4 or cell.filters != 64 or cell.kernel != 3:
            continue  # the costliest cells are among the widest, deepest 3×3 ones
        arch = Architecture((cell,) * n, (1,) * num_bits(n), scale=scale, features=features)
        best = (max(best[0], float(mult_adds(arch))), max(best[1], float(params(arch))))
    return best


def reference_point(config: SearchConfig) -> dict[str, Any]:
    """The hypervolume's reference point: (PSNR, mult-adds or latency, params) a front must beat to count."""
    m_max, q_max = space_max_costs(config.n, config.scale, config.features, config.space)
    ref = {
        "psnr": config.psnr_min if config.psnr_min is not None else config.hv_psnr_ref,
        "mult_adds": config.flops_max or m_max,
        "params": config.params_max or q_max,
    }
    if config.latency_max is not None:
        ref["latency_ms"] = config.latency_max
    ref["speed"] = config.speed_key
    return ref


def hypervolume(front: list[dict], ref: dict[str, float]) -> float:
    """Hypervolume of the front's (−PSNR, speed/S_ref, params/Q_ref) up to (−P_ref, 1, 1); the speed is
    mult-adds, or latency with `--objectives psnr,latency,params`."""
    if not front:
        return 0.0
    from pymoo.indicators.hv import HV

    speed = str(ref.get("speed", "mult_adds"))
    P = np.array([[-m["psnr"], m[speed] / ref[speed], m["params"] / ref["params"]] for m in front])
    r = np.array([-ref["psnr"], 1.0, 1.0])
    P = P[np.all(P < r, axis=1)]
    if len(P) == 0:
        return 0.0
    return float(HV(ref_point=r)(P))


def best_psnr_within_budget(records: list[dict], config: SearchConfig) -> float | None:
    """The best PSNR of a trained candidate within --flops-max (any, without a budget)."""
    vals = [r["psnr"] for r in records
            if r["status"] == OK and (config.flops_max is None or r["mult_adds"] <= config.flops_max)]
    return max(vals) if vals else None


# ---- pareto.json ---------------------------------------------------------------------------------------


def member(record: dict, config: SearchConfig) -> dict[str, Any]:
    arch = Architecture.from_genome(record["genome"], config.n, scale=config.scale, features=config.features,
                                    residual=config.residual, space=config.space)
    return {
        "architecture": arch.to_dict(),
        "text": arch.to_text(),
        "hash": record["hash"],
        "psnr": record["psnr"],
        "ssim": record.get("ssim"),
        "mult_adds": record["mult_adds"],
        "params": record["params"],
        "generation": record["generation"],
        **{k: record[k] for k in ("latency_ms", "latency_predicted_ms", "latency_measured_ms")
           if k in record},
        # successive halving: the rung it reached, its steps, raw rung PSNRs and the gain added to them
        **{k: record[k] for k in ("rung", "steps", "rung_psnr", "psnr_gain", "gain_pairs") if k in record},
    }


def fidelity_summary(config: SearchConfig, history: list[dict]) -> dict[str, Any]:
    """Successive halving's rungs, and per generation how many candidates trained at each."""
    return {"method": config.fidelity, "rungs": config.rungs, "promote": config.promote,
            "generations": [{"generation": h["generation"], "trained": h["rungs"]}
                            for h in history if "rungs" in h]}


def pareto_document(config: SearchConfig, front: list[dict], generation: int, hv: float,
                    n_evaluations: int, removed: list[dict] | None = None,
                    history: list[dict] | None = None) -> dict[str, Any]:
    """pareto.json: the front and what it was formed under; `removed`: members the final latency
    measurement put over --latency-max (and so out of the front); `history`: the generations (the rungs
    of successive halving)."""
    return {
        "format": PARETO_FORMAT,
        "generation": generation,
        "evaluations": n_evaluations,
        "val": config.val,
        "objective": config.objective,
        "constraints": {"psnr_min": config.psnr_min, "flops_max": config.flops_max,
                        "params_max": config.params_max, "latency_max": config.latency_max},
        **({"latency": {"runtime": config.latency_runtime, "threads": config.latency_threads,
                        "input": config.latency_input, "unit": "ms"}}
           if config.latency_max is not None else {}),
        "mult_adds_at": [480, 480],
        **({"fidelity": fidelity_summary(config, history or [])} if config.fidelity == "sh" else {}),
        "hypervolume": hv,
        "reference_point": reference_point(config),
        "front": [member(r, config) for r in front],
        **({"removed_over_latency_budget": removed} if removed else {}),
    }


def read_pareto(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / "pareto.json"
    if not Path(run_dir).is_dir():
        raise FalsrError(f"{run_dir}: no such folder")
    if not path.is_file():
        raise FalsrError(f"{run_dir}: no pareto.json (not a search folder, or no generation finished yet)")
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("front"), list):
        raise FalsrError(f"{path}: no list under key 'front'")
    return doc


# ---- plots ---------------------------------------------------------------------------------------------


def staircase(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The 2-D front of (cost, score) points: cheapest first, each better than every cheaper one."""
    xs, ys, best = [], [], -np.inf
    for x, y in sorted(points):
        if y > best:
            xs.append(x)
            ys.append(y)
            best = y
    return xs, ys


def plot_pareto(path: str | os.PathLike, records: list[dict], front: list[dict], config: SearchConfig,
                published: dict[str, Any] | None = None) -> None:
    """PSNR vs mult-adds (log x) like the paper's Figure 5, published Set5 models as reference points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    key = config.speed_key
    speed = "latency" if key == "latency_ms" else "mult-adds"
    ok = [r for r in records if r["status"] == OK]
    if ok:
        ax.scatter([r[key] for r in ok], [r["psnr"] for r in ok], s=10, c="0.7", label="candidates")
    if front:
        ax.scatter([r[key] for r in front], [r["psnr"] for r in front], s=28, c="tab:red", zorder=3,
                   label=f"Pareto front (PSNR, {speed}, params)")
        xs, ys = staircase([(r[key], r["psnr"]) for r in front])
        ax.step(xs, ys, where="post", c="tab:red", lw=1)
    if key == "mult_adds" and published and config.val.lower() == "set5" and config.scale == 2:
        for name, m in published.get("models", {}).items():
            if "Set5" in m and m.get("mult_adds"):
                falsr = name.startswith("FALSR")
                ax.scatter(m["mult_adds"], m["Set5"][0], marker="*" if falsr else "x", s=60 if falsr else 30,
                           c="tab:blue" if falsr else "k", zorder=4)
                ax.annotate(name, (m["mult_adds"], m["Set5"][0]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    if config.flops_max and key == "mult_adds":
        ax.axvline(config.flops_max, ls="--", c="tab:green", lw=1,
                   label=f"--flops-max {format_count(config.flops_max)}")
    if config.latency_max is not None and key == "latency_ms":
        ax.axvline(config.latency_max, ls="--", c="tab:green", lw=1,
                   label=f"--latency-max {config.latency_max:g} ms")
    if config.psnr_min is not None:
        ax.axhline(config.psnr_min, ls=":", c="tab:green", lw=1, label=f"--psnr-min {config.psnr_min:g}")
    ax.set_xscale("log")
    ax.set_xlabel("mult-adds (480×480 LR input)" if key == "mult_adds" else
                  f"latency, ms ({config.latency_runtime}, {config.latency_input} LR input)")
    ax.set_ylabel(f"PSNR on {config.val} (dB)")
    ax.set_title(f"falsr search ×{config.scale}: {len(ok)} trained candidates, {len(front)} on the front")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_history(path: str | os.PathLike, history: list[dict]) -> None:
    """Per generation: best PSNR within the budget, hypervolume, and evaluations by outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = [h["generation"] for h in history]
    fig, axes = plt.subplots(3, 1, figsize=(7, 7.5), dpi=110, sharex=True)
    axes[0].plot(g, [np.nan if h["best_psnr"] is None else h["best_psnr"] for h in history], "o-")
    axes[0].set_ylabel("best PSNR (dB)\nwithin budget")
    axes[1].plot(g, [h["hypervolume"] for h in history], "o-", c="tab:red")
    axes[1].set_ylabel("hypervolume")
    trained = np.array([h["trained"] - h["failed"] for h in history])
    skipped = np.array([h["skipped"] for h in history])
    failed = np.array([h["failed"] for h in history])
    axes[2].bar(g, trained, label="trained")
    axes[2].bar(g, skipped, bottom=trained, label="skipped by cost")
    axes[2].bar(g, failed, bottom=trained + skipped, label="failed")
    axes[2].set_ylabel("evaluations")
    axes[2].set_xlabel("generation")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
