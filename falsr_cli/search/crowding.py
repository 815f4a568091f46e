"""Crowding distances for NSGA-II's survival and tournament: Chu & Yu's improved one, or pymoo's own.

Improved crowding distance (X. Chu and X. Yu, "Improved Crowding Distance for NSGA-II", arXiv 1811.12667,
2018). For a front of N points and M objectives (all minimised), sort the front by objective m; let
i_1, …, i_N be that order and f_m^max, f_m^min the extremes. NSGA-II's distance of an interior point i_k is

    d(i_k) = Σ_m (f_m(i_{k+1}) − f_m(i_{k−1})) / (f_m^max − f_m^min),

the perimeter of the cuboid spanned by its two neighbours, which is the same for every position of the
point inside that cuboid. Chu & Yu keep only the side towards the next-worse neighbour:

    d(i_k) = Σ_m (f_m(i_{k+1}) − f_m(i_k)) / (f_m^max − f_m^min),

so that, of two points in the same cuboid, the one closer to the Pareto front (smaller objectives) is
preferred, while spread is still rewarded. As in NSGA-II, the two extreme points of every objective get an
infinite distance, and an objective whose values are all equal adds nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def improved_crowding_distance(F: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Chu & Yu's crowding distance of every row of F (N points × M minimised objectives)."""
    F = np.asarray(F, dtype=float)
    n_points, n_obj = F.shape
    if n_points <= 2:
        return np.full(n_points, np.inf)
    d = np.zeros(n_points)
    for m in range(n_obj):
        order = np.argsort(F[:, m], kind="mergesort")
        values = F[order, m]
        span = values[-1] - values[0]
        if span <= 0:
            continue
        # Each point but the last gets the gap to its next-worse neighbour; the extremes are kept always.
        d[order[:-1]] += (values[1:] - values[:-1]) / span
        d[order[0]] = np.inf
        d[order[-1]] = np.inf
    return d


def crowding_distance(F: np.ndarray, crowding: str) -> np.ndarray:
    """The crowding distance survival uses ("chu-yu" or "pymoo") of every row of one front F."""
    if crowding == "chu-yu":
        return improved_crowding_distance(F)
    from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function

    return np.asarray(get_crowding_function("cd").do(np.asarray(F, dtype=float), n_remove=0), dtype=float)


def survival(crowding: str):
    """pymoo's RankAndCrowding survival with the chosen crowding distance ("chu-yu" or "pymoo")."""
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    if crowding == "chu-yu":
        return RankAndCrowding(crowding_func=improved_crowding_distance)
    return RankAndCrowding(crowding_func="cd")
