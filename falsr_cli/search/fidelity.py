"""Multi-fidelity evaluation inside a generation: successive halving over rungs of training steps.

With `fidelity = "sh"` and rungs s_0 < s_1 < … < s_top, every new candidate of a generation within the cost
budget is briefly trained for s_0 steps; of those trained at rung r, the best max(1, round(promote · n_r))
are trained on to s_{r+1} steps at rung r + 1; and so on to the top rung. With a horizon (the default)
every rung trains the first s_r steps of one schedule, so rung r + 1 continues rung r's run from its
checkpoint; without one, each rung trains again from scratch (same seed) on a schedule of its own steps.
"Best" is multi-objective (Optuna's pruners rank one value; optuna#3450): the candidates are ordered by
Pareto rank over the search's objectives (−PSNR at that rung, mult-adds or latency, params), ties within a
front by the search's crowding distance (larger first), then by position.

The score a candidate carries into NSGA-II must compare across rungs, so one stopped at rung r is put on
the top rung's scale: its rung-r PSNR plus the mean gain PSNR(top) − PSNR(r) of every candidate of this
generation and the earlier ones trained at both r and the top rung (0 while there is none). The estimate
is computed from the journal's rung records once the generation's top rung is done, so a resumed search
computes the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from falsr_cli.search.crowding import crowding_distance
from falsr_cli.search.problem import OK, non_dominated


def n_promoted(n: int, promote: float) -> int:
    """How many of n candidates trained at a rung go on to the next: promote · n rounded, at least 1."""
    return min(n, max(1, int(np.floor(promote * n + 0.5))))


def pareto_order(F: np.ndarray, crowding: str) -> list[int]:
    """Row indices of F (minimised objectives), best first: by non-dominated front, then crowding."""
    F = np.asarray(F, dtype=float).reshape(len(F), -1)
    left = np.arange(len(F))
    order: list[int] = []
    while len(left):
        front = left[non_dominated(F[left])]
        distance = crowding_distance(F[front], crowding)
        # Stable: equal distances keep the candidates' order, so the choice never depends on chance.
        order.extend(int(i) for i in front[np.argsort(-distance, kind="stable")])
        left = np.setdiff1d(left, front)
    return order


def promoted(F: np.ndarray, promote: float, crowding: str) -> list[int]:
    """The rows of F to train at the next rung, in their original order."""
    return sorted(pareto_order(F, crowding)[:n_promoted(len(F), promote)])


def rung_gains(records: Iterable[dict], rungs: list[int]) -> list[tuple[float, int]]:
    """Per rung, (mean PSNR gain from that rung to the top, how many candidates it is the mean of)."""
    psnr: dict[str, dict[int, float]] = {}
    for r in records:
        if r["status"] == OK:
            psnr.setdefault(r["hash"], {})[int(r["steps"])] = float(r["psnr"])
    top = rungs[-1]
    gains = []
    for steps in rungs:
        # In hash order: the sum, to its last bit, must not depend on the order workers finished in.
        pairs = [psnr[h][top] - psnr[h][steps] for h in sorted(psnr) if {top, steps} <= psnr[h].keys()]
        gains.append((float(np.mean(pairs)) if pairs else 0.0, len(pairs)))
    return gains


def final_result(rung_records: list[dict], gains: list[tuple[float, int]]) -> dict:
    """A candidate's result from its rung records (ascending): the last rung's, PSNR on the top's scale,
    seconds summed over the rungs."""
    last = rung_records[-1]
    rung, top = int(last["rung"]), len(gains) - 1
    out: dict = {"status": last["status"]}
    if last["status"] == OK:
        gain, pairs = gains[rung] if rung < top else (0.0, 0)
        out["psnr"] = float(last["psnr"]) + gain
    out.update({k: last[k] for k in ("ssim", "loss", "worker", "pid", "attempts") if k in last})
    for k in ("train_seconds", "eval_seconds", "wall_seconds"):
        out[k] = sum(float(r.get(k) or 0.0) for r in rung_records)
    lost = [e for r in rung_records for e in r.get("lost", [])]
    if lost:
        out["lost"] = lost
    out.update(rung=rung, steps=int(last["steps"]),
               rung_psnr=[r["psnr"] for r in rung_records if r["status"] == OK])
    if last["status"] == OK:
        out["psnr_gain"] = gain
        if rung < top:
            out["gain_pairs"] = pairs
    else:
        out["reason"] = f"rung {rung} ({last['steps']} steps): {last.get('reason', 'failed')}"
    return out
