"""Rank agreement of two scorings of the same candidates (e.g. brief against long training)."""

from __future__ import annotations

import math


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's τ-b (ties in either ranking counted as neither concordant nor discordant)."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else float("nan")


def _ranks(v: list[float]) -> list[float]:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = sorted(range(len(v)), key=lambda i: v[i])
    ranks = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman_rho(x: list[float], y: list[float]) -> float:
    """Spearman's ρ: the Pearson correlation of the average ranks."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else float("nan")


def pair_accuracy(x: list[float], y: list[float], cost: list[float], ratio: float = 1.5) -> tuple[float, int]:
    """How often `x` orders two candidates as `y` does, over the pairs whose costs are within `ratio` of each
    other (a search under a budget compares near-equal costs; size alone decides the far pairs), and how
    many such pairs there were. Pairs tied in either score are left out; no pair gives nan."""
    agree = total = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            lo, hi = sorted((cost[i], cost[j]))
            dx, dy = x[i] - x[j], y[i] - y[j]
            if hi > ratio * lo or dx == 0 or dy == 0:
                continue
            total += 1
            agree += (dx > 0) == (dy > 0)
    return (agree / total if total else float("nan")), total
