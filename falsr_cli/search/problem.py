"""The FALSR search as a pymoo Problem: the genome, the three objectives and the constraints.

Genome: n indices into the space's cells (0..191 in the paper's S), then the n(n+1)/2 connection bits
(see space/architecture.py).
Objectives, all minimised: −PSNR of the briefly trained candidate (or its MSE, 10^(−PSNR/10) for images in
[0, 1]), mult-adds at 480×480 LR, and parameters. Constraints, pymoo style (g ≤ 0 is satisfied):

    psnr_min:   psnr_min − PSNR                       (dB; only with --psnr-min)
    flops_max:  mult_adds / flops_max − 1             (only with --flops-max)
    params_max: params / params_max − 1               (only with --params-max)
    latency_max: latency / latency_max − 1            (only with --latency-max)
    failed:     1 when the evaluation failed, else 0  (always)

Mult-adds and params come from the cost model before any training, latency from the latency model (and a
measurement when the prediction is within `latency_margin` of the budget); a candidate that breaks a cost
constraint is never trained (its PSNR is unknown: its objective is the worst value and its PSNR constraint
0, so pymoo ranks it by how far it breaks the cost constraints alone).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pymoo.core.problem import Problem

from falsr_cli.cost.latency_model import predict_ms
from falsr_cli.cost.summary import parse_hw
from falsr_cli.models.latency import MAX_SIDE, load_profile, measure_network, random_luma_model
from falsr_cli.search.config import SearchConfig
from falsr_cli.space.architecture import Architecture, num_bits
from falsr_cli.space.cells import space_cells

# Evaluation statuses in the journal.
OK, SKIPPED, FAILED = "ok", "skipped_cost", "failed"


def psnr_to_mse(psnr: float) -> float:
    """The mean squared error (images in [0, 1]) that a PSNR stands for."""
    return float(10.0 ** (-psnr / 10.0))


class FalsrProblem(Problem):
    """n cells + n(n+1)/2 bits → (−PSNR or MSE, mult-adds, params) under the user's constraints."""

    def __init__(self, config: SearchConfig, evaluate: Callable[[np.ndarray], list[dict]] | None = None):
        self.config = config
        self.n = config.n
        n_var = config.n + num_bits(config.n)
        self.constraint_names: list[str] = [
            name for name, value in (("psnr_min", config.psnr_min), ("flops_max", config.flops_max),
                                     ("params_max", config.params_max), ("latency_max", config.latency_max))
            if value is not None
        ] + ["failed"]
        xu = np.array([len(space_cells(config.space)) - 1] * config.n + [1] * num_bits(config.n))
        super().__init__(n_var=n_var, n_obj=3, n_ieq_constr=len(self.constraint_names),
                         xl=np.zeros(n_var, dtype=int), xu=xu, vtype=int)
        self._evaluate_fn = evaluate
        self._costs: dict[tuple[int, ...], tuple[int, int]] = {}
        self._latency: dict[tuple[int, ...], dict[str, Any]] = {}
        self.latency_profile: dict[str, Any] | None = None  # set by prepare_latency

    # ---- genome ↔ architecture and costs ---------------------------------------------------------

    def architecture(self, x: Sequence[int] | np.ndarray) -> Architecture:
        return Architecture.from_genome([int(v) for v in x], self.n, scale=self.config.scale,
                                        residual=self.config.residual,
                                        features=self.config.features, space=self.config.space)

    def costs(self, x: Sequence[int] | np.ndarray) -> tuple[int, int]:
        """(mult-adds at 480×480 LR, params) from the cost model; cached per genome."""
        key = tuple(int(v) for v in x)
        if key not in self._costs:
            from falsr_cli.cost.cost_model import mult_adds, params

            arch = self.architecture(key)
            self._costs[key] = (int(mult_adds(arch, lr_hw=(480, 480))), int(params(arch)))
        return self._costs[key]

    def prepare_latency(self, progress: Callable[[str, int, int], None] | None = None) -> Any:
        """Load (or build, once per machine) the latency profile --latency-max needs; its cache path."""
        c = self.config
        hw = parse_hw(c.latency_input, "--latency-input", MAX_SIDE)
        self.latency_profile, path = load_profile(c.latency_runtime, c.latency_threads, hw, c.scale,
                                                  c.features, c.data_dir, progress=progress,
                                                  flag="--latency-input", space=c.space)
        return path

    def latency(self, x: Sequence[int] | np.ndarray) -> dict[str, Any]:
        """{"latency_ms", "latency_predicted_ms"[, "latency_measured_ms"]} of a genome; cached. The
        prediction decides unless it is within latency_margin of the budget: then a measurement does."""
        key = tuple(int(v) for v in x)
        if key not in self._latency:
            if self.latency_profile is None:
                self.prepare_latency()
            arch = self.architecture(key)
            c = self.config
            pred = predict_ms(arch, self.latency_profile)
            out: dict[str, Any] = {"latency_ms": pred, "latency_predicted_ms": pred}
            if c.latency_max is not None and abs(pred / c.latency_max - 1.0) <= c.latency_margin:
                p = self.latency_profile
                measured = measure_network(random_luma_model(arch), c.latency_runtime, p["threads"],
                                           parse_hw(c.latency_input, "--latency-input", MAX_SIDE), runs=7,
                                           warmup=2)["median_ms"]
                out.update(latency_ms=measured, latency_measured_ms=measured)
            self._latency[key] = out
        return self._latency[key]

    def cost_violations(self, mult_adds: float, params: float, latency_ms: float | None = None
                        ) -> dict[str, float]:
        """The cost constraints' g values (≤ 0 is satisfied)."""
        g: dict[str, float] = {}
        if self.config.flops_max is not None:
            g["flops_max"] = mult_adds / self.config.flops_max - 1.0
        if self.config.params_max is not None:
            g["params_max"] = params / self.config.params_max - 1.0
        if self.config.latency_max is not None:
            g["latency_max"] = (latency_ms if latency_ms is not None else 0.0) / self.config.latency_max - 1.0
        return g

    def cost_feasible(self, mult_adds: float, params: float, latency_ms: float | None = None) -> bool:
        return all(v <= 0 for v in self.cost_violations(mult_adds, params, latency_ms).values())

    # ---- objectives and constraints of an evaluation record ---------------------------------------

    def objectives(self, record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(F, G) of one journal record, in the order of `n_obj` and `constraint_names`."""
        ok = record["status"] == OK
        psnr = float(record["psnr"]) if ok else 0.0
        first = -psnr if self.config.objective == "psnr" else psnr_to_mse(psnr)
        # latency is unknown for a candidate over the mult-adds or params budget (never timed)
        speed = float(record.get(self.config.speed_key, 0.0))
        F = np.array([first, speed, float(record["params"])])
        g = self.cost_violations(record["mult_adds"], record["params"], record.get("latency_ms"))
        if self.config.psnr_min is not None:
            g["psnr_min"] = self.config.psnr_min - psnr if ok else 0.0
        g["failed"] = 1.0 if record["status"] == FAILED else 0.0
        G = np.array([g[name] for name in self.constraint_names])
        return F, G

    def violation(self, record: dict[str, Any]) -> float:
        """pymoo's constraint violation CV = Σ max(0, g) of one record."""
        _, G = self.objectives(record)
        return float(np.maximum(G, 0).sum())

    def is_feasible(self, record: dict[str, Any]) -> bool:
        return record["status"] == OK and self.violation(record) <= 0

    def _evaluate(self, X: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
        # Only used when the problem is run through pymoo's `minimize`; the runner asks and tells itself.
        if self._evaluate_fn is None:
            raise RuntimeError("FalsrProblem was built without an evaluate function")
        records = self._evaluate_fn(np.asarray(X))
        FG = [self.objectives(r) for r in records]
        out["F"] = np.array([f for f, _ in FG])
        out["G"] = np.array([g for _, g in FG])


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of F (minimisation); duplicates are all kept."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    keep = []
    for i in range(len(F)):
        dominated = np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=int)
