"""Search building blocks: crowding distance, problem, operators, configuration (no training, no TF)."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.errors import FalsrError
from falsr_cli.search.config import SearchConfig, check_compatible, parse_count, resolve_config
from falsr_cli.search.crowding import improved_crowding_distance
from falsr_cli.search.operators import (
    GenomeDuplicateElimination,
    HybridMutation,
    InitialSampling,
    MacroMicroCrossover,
    random_mutation,
    row_slice,
    rws_probabilities,
)
from falsr_cli.search.problem import FAILED, OK, SKIPPED, FalsrProblem, non_dominated
from falsr_cli.space.architecture import Architecture, num_bits

# ---- crowding distance ------------------------------------------------------------------------------


def test_improved_crowding_distance_matches_hand_computed_values():
    # Four points of a 2-objective front; both ranges are 4.
    F = np.array([[0.0, 4.0], [1.0, 2.0], [2.0, 1.5], [4.0, 0.0]])
    d = improved_crowding_distance(F)
    # b: f1 gap to next-worse (2 − 1)/4 = 0.25, f2 gap (4 − 2)/4 = 0.5 → 0.75
    # c: f1 (4 − 2)/4 = 0.5, f2 (2 − 1.5)/4 = 0.125 → 0.625
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(0.75)
    assert d[2] == pytest.approx(0.625)


def test_improved_crowding_prefers_the_point_closer_to_the_front_where_nsga2_cannot():
    # Two positions of the middle point inside the same neighbour cuboid: NSGA-II's distance is equal,
    # Chu & Yu's is larger for the point with smaller objectives.
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    near = np.array([[0.0, 4.0], [1.0, 1.0], [4.0, 0.0]])
    far = np.array([[0.0, 4.0], [3.0, 3.0], [4.0, 0.0]])
    assert calc_crowding_distance(near)[1] == pytest.approx(calc_crowding_distance(far)[1])
    assert improved_crowding_distance(near)[1] == pytest.approx(3 / 4 + 3 / 4)
    assert improved_crowding_distance(far)[1] == pytest.approx(1 / 4 + 1 / 4)


def test_crowding_of_a_constant_objective_adds_nothing_and_small_fronts_are_infinite():
    F = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 1.0], [4.0, 1.0]])
    d = improved_crowding_distance(F)
    assert d[1] == pytest.approx(0.5) and d[2] == pytest.approx(0.25)
    assert np.isinf(improved_crowding_distance(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()


# ---- problem ------------------------------------------------------------------------------------------


def _cfg(**kw) -> SearchConfig:
    base = {"n": 3, "pop": 6, "evaluator": "proxy", "workers": 0, "p_exploit": 0.0}
    return resolve_config({**base, **kw})


def test_parse_count_accepts_the_documented_forms_and_rejects_junk():
    assert parse_count("100G", "flops_max") == 1e11
    assert parse_count("5e10", "flops_max") == 5e10
    assert parse_count("1.5T", "flops_max") == 1.5e12
    assert parse_count("800M", "flops_max") == 8e8
    assert parse_count("300k", "params_max") == 3e5
    assert parse_count("1M", "params_max") == 1e6
    for bad in ("100X", "-5G", "G", "0"):
        with pytest.raises(FalsrError, match="flops_max"):
            parse_count(bad, "flops_max")


def test_problem_objectives_and_constraints_follow_the_documented_signs():
    p = FalsrProblem(_cfg(psnr_min=37.0, flops_max="10G", params_max="100k"))
    assert p.n_var == 3 + num_bits(3) and p.n_obj == 3
    assert p.constraint_names == ["psnr_min", "flops_max", "params_max", "failed"]
    ok = {"status": OK, "psnr": 36.0, "mult_adds": 5e9, "params": 2e5}
    F, G = p.objectives(ok)
    assert F.tolist() == [-36.0, 5e9, 2e5]
    assert G.tolist() == pytest.approx([1.0, -0.5, 1.0, 0.0])
    skipped = {"status": SKIPPED, "mult_adds": 2e10, "params": 1e4}
    F, G = p.objectives(skipped)
    assert F[0] == 0.0 and G.tolist() == pytest.approx([0.0, 1.0, -0.9, 0.0])
    failed = {"status": FAILED, "mult_adds": 1e9, "params": 1e4}
    assert p.objectives(failed)[1][-1] == 1.0 and not p.is_feasible(failed)
    mse = FalsrProblem(_cfg(objective="mse"))
    assert mse.objectives(ok)[0][0] == pytest.approx(10 ** -3.6)


def test_cost_filter_uses_the_cost_model():
    from falsr_cli.cost.cost_model import mult_adds

    arch = Architecture.random(np.random.default_rng(3), n=3, residual=_cfg().residual)
    flops = mult_adds(arch)
    p = FalsrProblem(_cfg(flops_max=flops * 0.99))
    assert p.costs(arch.genome())[0] == flops
    assert not p.cost_feasible(*p.costs(arch.genome()))
    assert FalsrProblem(_cfg(flops_max=flops)).cost_feasible(*p.costs(arch.genome()))


def test_non_dominated():
    F = np.array([[0, 3], [1, 1], [2, 2], [3, 0], [1, 1]])
    assert non_dominated(F).tolist() == [0, 1, 3, 4]


# ---- operators ------------------------------------------------------------------------------------------


def test_initial_population_repeats_one_distinct_cell_and_uses_the_connection_categories():
    cfg = _cfg(n=4, pop=150, p_random_conn=0.5, p_dense_conn=0.25)
    X = InitialSampling(cfg)._do(None, 150, random_state=np.random.default_rng(0))
    assert X.shape == (150, 4 + num_bits(4))
    assert all(len(set(x[:4])) == 1 for x in X)  # one cell repeated in all n places
    assert len({x[0] for x in X}) == 150  # distinct cells while pop ≤ 192
    bits = X[:, 4:]
    dense, none = (bits.sum(1) == bits.shape[1]).mean(), (bits.sum(1) == 0).mean()
    assert 0.12 < dense < 0.4 and 0.12 < none < 0.4
    big = InitialSampling(cfg)._do(None, 200, random_state=np.random.default_rng(0))
    assert len({x[0] for x in big[:192]}) == 192  # all of S before any repeat


def test_crossover_takes_one_cell_and_one_connection_row_from_the_second_parent():
    cfg = _cfg(n=4)
    n, nb = 4, num_bits(4)
    rng = np.random.default_rng(1)
    A = np.concatenate([np.full((50, n), 7), np.zeros((50, nb), dtype=int)], axis=1)
    B = np.concatenate([np.full((50, n), 100), np.ones((50, nb), dtype=int)], axis=1)
    Y = MacroMicroCrossover(cfg)._do(None, np.stack([A, B]), random_state=rng)[0]
    rows = [row_slice(n, j) for j in range(n)]
    assert [r.stop - r.start for r in rows] == [4, 3, 2, 1] and rows[-1].stop == n + nb
    seen_rows = set()
    for y in Y:
        assert (y[:n] == 100).sum() == 1  # exactly one micro gene from B
        from_b = [j for j, r in enumerate(rows) if (y[r] == 1).all()]
        assert len(from_b) == 1 and y[n:].sum() == n - from_b[0]  # exactly one macro row from B
        seen_rows.add(from_b[0])
    assert seen_rows == {0, 1, 2, 3}


def test_mutations_keep_their_invariants():
    cfg = _cfg(n=4, w_random=0, w_rws_flops=1, w_rws_params=0)
    rng = np.random.default_rng(2)
    X = InitialSampling(cfg)._do(None, 20, random_state=rng)
    Y = HybridMutation(cfg)._do(None, X, random_state=rng)
    assert (Y[:, 4:] == X[:, 4:]).all()  # RWS keeps the connections
    for x in X:
        y = random_mutation(x, 4, rng)
        assert (y != x).any() and ((y[4:] == 0) | (y[4:] == 1)).all() and (y[:4] < 192).all()
    mut = HybridMutation(_cfg(n=4))
    Y = mut._do(None, X, random_state=rng)
    assert set(mut.made_by.values()) <= {"random", "rws_flops", "rws_params"}
    assert all(tuple(y) in mut.made_by for y in Y)


def test_rws_prefers_light_cells_on_a_log_scale():
    from falsr_cli.search.operators import cell_costs

    flops, params = cell_costs()
    p = rws_probabilities(flops)
    assert p.sum() == pytest.approx(1.0)
    assert p[np.argmin(flops)] == p.max() and p[np.argmax(flops)] == p.min()
    assert 3 < p.max() / p.min() < 30  # log-scaled: favoured, not exclusive
    assert rws_probabilities(params)[np.argmin(params)] == rws_probabilities(params).max()


def test_duplicate_elimination_drops_repeats_and_archived_genomes():
    from pymoo.core.population import Population

    dedup = GenomeDuplicateElimination()
    dedup.archive = {(1, 2, 3)}
    pop = Population.new("X", np.array([[1, 2, 3], [4, 5, 6], [4, 5, 6], [7, 8, 9]]))
    other = Population.new("X", np.array([[7, 8, 9]]))
    assert dedup.do(pop, other).get("X").tolist() == [[4, 5, 6]]


# ---- configuration --------------------------------------------------------------------------------------


def test_config_file_and_flags_merge_in_order(tmp_path):
    toml = tmp_path / "search.toml"
    toml.write_text('[search]\npop = 12\nflops-max = "100G"\ngenerations = 4\n')
    cfg = resolve_config({"generations": 7, "pop": None}, preset="demo", config_file=toml)
    assert (cfg.pop, cfg.flops_max, cfg.generations, cfg.n) == (12, 1e11, 7, 3)  # flags > file > preset
    (tmp_path / "bad.toml").write_text("popp = 3\n")
    with pytest.raises(FalsrError, match="popp"):
        resolve_config({}, config_file=tmp_path / "bad.toml")
    with pytest.raises(FalsrError, match="p_dense_conn"):
        resolve_config({"p_random_conn": 0.8, "p_dense_conn": 0.5})


def test_a_changed_objective_constraint_or_space_refuses_naming_the_field():
    saved = resolve_config({"flops_max": "100G", "out": "x"})
    same = resolve_config({"flops_max": "1e11", "workers": 4, "generations": 99, "out": "x"})
    check_compatible(saved, same)
    for change, field in (({"flops_max": "50G"}, "flops_max"), ({"objective": "mse"}, "objective"),
                          ({"n": 5}, "n"), ({"psnr_min": 37.0}, "psnr_min")):
        with pytest.raises(FalsrError, match=f"^{field} "):
            check_compatible(saved, resolve_config({"flops_max": "100G", "out": "x", **change}))
