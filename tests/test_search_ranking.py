"""Kendall's τ-b and Spearman's ρ against reference values (scipy.stats, computed once and written here)."""

from __future__ import annotations

import math

import pytest

from falsr_cli.search.ranking import kendall_tau, pair_accuracy, spearman_rho

X = [12.0, 2.0, 1.0, 12.0, 2.0]
Y = [1.0, 4.0, 7.0, 1.0, 0.0]


def test_against_reference_values_with_ties():
    # scipy 1.17: kendalltau(X, Y).statistic (tau-b) and spearmanr(X, Y).statistic
    assert kendall_tau(X, Y) == pytest.approx(-0.4714045207910316, abs=1e-12)
    assert spearman_rho(X, Y) == pytest.approx(-0.5407380704358752, abs=1e-12)


def test_perfect_reversed_and_degenerate_orders():
    a = [30.1, 31.5, 29.0, 33.2]
    assert kendall_tau(a, [v + 1 for v in a]) == 1.0
    assert spearman_rho(a, [2 * v for v in a]) == pytest.approx(1.0)
    assert kendall_tau(a, [-v for v in a]) == -1.0 and spearman_rho(a, [-v for v in a]) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([1.0, 1.0], [2.0, 2.0])) and math.isnan(spearman_rho([1, 1, 1], [1, 2, 3]))


def test_pair_accuracy_counts_only_near_equal_costs():
    # costs 10, 12, 14, 40: near pairs (ratio 1.5) are (0,1), (0,2), (1,2); the 40 pairs with nobody.
    x = [1.0, 2.0, 3.0, 0.0]
    y = [2.0, 1.0, 3.0, 9.0]  # (0,1) disagree, (0,2) and (1,2) agree; the far pairs would all disagree
    assert pair_accuracy(x, y, [10.0, 12.0, 14.0, 40.0]) == (pytest.approx(2 / 3), 3)
    # ratio 1.19 keeps (1,2) alone: 14/12 ≤ 1.19 < 12/10
    assert pair_accuracy(x, y, [10.0, 12.0, 14.0, 40.0], ratio=1.19) == (1.0, 1)
    acc, n = pair_accuracy(x, y, [1.0, 10.0, 100.0, 1000.0])
    assert n == 0 and math.isnan(acc)
    assert pair_accuracy([1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0]) == (1.0, 2)  # the x tie left out
