"""The search's genetic operators as pymoo operators: initial sampling, crossover, hybrid mutation.

All randomness comes from the `random_state` pymoo hands to the operators (the algorithm's generator), so
that a search restored from a snapshot asks exactly the same offspring as the uninterrupted one would.

- `InitialSampling`: individual k repeats one cell of S in all n cells (distinct cells while the population
  is at most |S| = 192); its connections are random (each bit a fair coin) with probability p_r, dense (all
  ones) with p_den, and none (only the always-present chain t−1 → t) otherwise.
- `MacroMicroCrossover`: the child is parent A's genome except one micro gene i (a cell) and one macro row j
  (all bits of source j), which come from parent B; i and j are drawn independently.
- `HybridMutation`: per offspring, a categorical draw between exploitation (probability p_exploit, possibly
  annealed) — the RL controller's proposal replaces the genome — and exploration, itself one of
  · random mutation: every gene changes with probability 1/len(genome), at least one gene changes;
  · RWS-FLOPs: each of the n cells is redrawn over S by roulette-wheel selection, connections kept;
  · RWS-params: the same with the parameter counts.
  The roulette weight of cell c is w_c = log(1 + cost_max / cost_c), where cost_c is the mult-adds (or
  params) of a one-cell network made of c: log-scaled, so lighter cells are preferred without starving
  the heaviest (the lightest cell is about 10× as likely as the heaviest, not 1000×).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.sampling import Sampling

from falsr_cli.cost.cost_model import mult_adds, params
from falsr_cli.search.config import SearchConfig
from falsr_cli.space.architecture import Architecture, num_bits
from falsr_cli.space.cells import DEFAULT_SPACE, space_cells

if TYPE_CHECKING:
    from falsr_cli.search.controller import Controller

EXPLORATION_KINDS = ("random", "rws_flops", "rws_params")


def row_slice(n: int, j: int) -> slice:
    """Genome positions of macro row j (the bits of source j → targets j+2..n+1)."""
    start = n + j * n - j * (j - 1) // 2
    return slice(start, start + n - j)


def cell_costs(scale: int = 2, features: int = 32,
               space: str = DEFAULT_SPACE) -> tuple[np.ndarray, np.ndarray]:
    """(mult-adds, params) of the one-cell network made of each cell of the space, in genome order."""
    flops, prms = [], []
    for cell in space_cells(space):
        arch = Architecture((cell,), (0,), scale=scale, features=features)
        flops.append(mult_adds(arch, lr_hw=(480, 480)))
        prms.append(params(arch))
    return np.array(flops, dtype=float), np.array(prms, dtype=float)


def rws_probabilities(costs: np.ndarray) -> np.ndarray:
    """Roulette-wheel probabilities w_c ∝ log(1 + max(cost) / cost_c)."""
    costs = np.maximum(np.asarray(costs, dtype=float), 1.0)
    w = np.log1p(costs.max() / costs)
    return w / w.sum()


class InitialSampling(Sampling):
    """One repeated cell per individual, connections random / dense / none."""

    def __init__(self, config: SearchConfig):
        super().__init__()
        self.config = config

    def _do(self, problem: Any, n_samples: int, *args: Any, random_state: np.random.Generator, **kwargs: Any):
        n, bits = self.config.n, num_bits(self.config.n)
        rng = random_state
        n_cells = len(space_cells(self.config.space))
        cells = rng.permutation(n_cells)[: min(n_samples, n_cells)]
        if n_samples > n_cells:
            cells = np.concatenate([cells, rng.integers(0, n_cells, size=n_samples - n_cells)])
        p_r, p_den = self.config.p_random_conn, self.config.p_dense_conn
        X = np.zeros((n_samples, n + bits), dtype=int)
        for k in range(n_samples):
            X[k, :n] = cells[k]
            category = rng.choice(3, p=[p_r, p_den, max(0.0, 1.0 - p_r - p_den)])
            if category == 0:
                X[k, n:] = rng.integers(0, 2, size=bits)
            elif category == 1:
                X[k, n:] = 1
        return X


class MacroMicroCrossover(Crossover):
    """Two parents → one child: A's genome with B's cell i and B's connection row j."""

    def __init__(self, config: SearchConfig):
        super().__init__(n_parents=2, n_offsprings=1, prob=config.crossover_prob)
        self.config = config

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator, **kwargs: Any):
        n = self.config.n
        _, n_matings, n_var = X.shape
        Y = np.array(X[0], copy=True)
        for k in range(n_matings):
            i = random_state.integers(0, n)
            j = random_state.integers(0, n)
            Y[k, i] = X[1, k, i]
            row = row_slice(n, j)
            Y[k, row] = X[1, k, row]
        return Y[None, :, :]


class HybridMutation(Mutation):
    """Exploration (random, RWS-FLOPs, RWS-params) or exploitation (the RL controller's proposal)."""

    def __init__(self, config: SearchConfig, controller: Controller | None = None) -> None:
        super().__init__(prob=config.mutation_prob)
        self.config = config
        self.controller = controller
        weights = np.array([config.w_random, config.w_rws_flops, config.w_rws_params], dtype=float)
        self.kind_p = weights / weights.sum() if weights.sum() > 0 else np.array([1.0, 0.0, 0.0])
        self._rws: dict[str, np.ndarray] | None = None
        # genome → the kind of mutation that made it, for the journal and the controller's update
        self.made_by: dict[tuple[int, ...], str] = {}

    def rws(self) -> dict[str, np.ndarray]:
        if self._rws is None:
            flops, prms = cell_costs(self.config.scale, self.config.features, self.config.space)
            self._rws = {"rws_flops": rws_probabilities(flops), "rws_params": rws_probabilities(prms)}
        return self._rws

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator,
            algorithm: Any = None, **kwargs: Any) -> np.ndarray:
        rng = random_state
        n = self.config.n
        generation = int(getattr(algorithm, "n_iter", 2) or 2)
        p_exploit = self.config.p_exploit_at(generation) if self.controller is not None else 0.0
        Y = np.array(X, copy=True).astype(int)
        kinds = []
        for _ in range(len(Y)):
            if rng.random() < p_exploit:
                kinds.append("rl")
            else:
                kinds.append(EXPLORATION_KINDS[int(rng.choice(3, p=self.kind_p))])
        rl_rows = [k for k, kind in enumerate(kinds) if kind == "rl"]
        if rl_rows:
            Y[rl_rows] = self.controller.sample(rng, len(rl_rows))
        n_cells = len(space_cells(self.config.space))
        for k, kind in enumerate(kinds):
            if kind == "random":
                Y[k] = random_mutation(Y[k], n, rng, n_cells)
            elif kind in ("rws_flops", "rws_params"):
                Y[k, :n] = rng.choice(n_cells, size=n, p=self.rws()[kind])
            self.made_by[tuple(int(v) for v in Y[k])] = kind
        return Y


def random_mutation(x: np.ndarray, n: int, rng: np.random.Generator,
                    n_cells: int = len(space_cells(DEFAULT_SPACE))) -> np.ndarray:
    """Change each gene with probability 1/len(x), at least one: a cell to another cell, a bit flipped."""
    y = np.array(x, copy=True)
    mask = rng.random(len(y)) < 1.0 / len(y)
    if not mask.any():
        mask[rng.integers(0, len(y))] = True
    for i in np.flatnonzero(mask):
        if i < n:
            y[i] = (y[i] + rng.integers(1, n_cells)) % n_cells
        else:
            y[i] = 1 - y[i]
    return y


class GenomeDuplicateElimination(DuplicateElimination):
    """Drop offspring equal to each other, to the population, or to any genome evaluated before."""

    def __init__(self) -> None:
        super().__init__()
        self.archive: set[tuple[int, ...]] = set()

    @staticmethod
    def key(x: Any) -> tuple[int, ...]:
        return tuple(int(v) for v in x)

    def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
        seen = set(self.archive)
        if other is not None:
            seen.update(self.key(x) for x in other.get("X"))
        for i, x in enumerate(pop.get("X")):
            k = self.key(x)
            if k in seen:
                is_duplicate[i] = True
            elif other is None:
                seen.add(k)
        return is_duplicate
