"""Candidate evaluation: incomplete training through `train_and_validate`, the cost filter, the cache.

`Evaluator.evaluate(X, generation)` turns a batch of genomes into journal records, in the batch's order:

- a genome whose architecture hash is already in the journal is never evaluated again (its record is reused);
- a candidate that breaks a cost constraint (mult-adds, params: cost model, no training) is recorded as
  `skipped_cost` and never trained;
- the others run as tasks on the pool (this process, local Dask workers or a Dask cluster); each result is
  journalled as soon as it arrives. A candidate whose training fails (NaN loss, out of memory, any error)
  is recorded as `failed` with the reason; one whose worker died is run once more (see workers.py), then
  recorded as `failed` if it dies again.

Under `fidelity = "sh"` the trainings of a generation run as successive halving (fidelity.py): one batch
of tasks per rung, each journalled as a `rung` record as it arrives and taken from the journal instead of
trained again after a restart; a candidate's own record follows once its last rung is done.

The task run on a worker is `run_candidate(arch_dict, settings)`, whose `settings["evaluator"]` picks the
training function: "brief" (`falsr_cli.train.brief.train_and_validate`, the real incomplete training),
"proxy" (`proxy_evaluate`, a cheap synthetic stand-in for tests and benchmarks) or "module:function". Each
candidate trains with a seed made from the search seed and its hash, so a result does not depend on which
worker ran it or when: deterministic given the seed.
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from falsr_cli.cost.cost_model import mult_adds, params, receptive_field
from falsr_cli.errors import FalsrError
from falsr_cli.search.fidelity import final_result, promoted, rung_gains
from falsr_cli.search.journal import RUNG, Journal
from falsr_cli.search.problem import FAILED, OK, SKIPPED, FalsrProblem
from falsr_cli.space.architecture import Architecture
from falsr_cli.train.brief import train_and_validate

TrainFn = Callable[..., dict]
# Successive halving's checkpoints, one folder per candidate, inside the search's folder.
RUNG_DIR = "rungs"


def evaluation_seed(search_seed: int, arch_hash: str) -> int:
    """The training seed of one candidate: a mix of the search seed and its architecture hash."""
    return (int(arch_hash[:8], 16) ^ (search_seed * 0x9E3779B1)) % (2**31 - 1)


# ---- training functions ----------------------------------------------------------------------------


def brief_evaluate(arch: Architecture, *, seed: int, steps: int, data: str, val: str, batch: int, patch: int,
                   lr: float, schedule: str = "constant", data_dir: str | None = None,
                   precision: str = "float32", init: str = "he-zero", warmup: int | None = None,
                   horizon: int | None = None, checkpoint_dir: str | None = None, **_: Any) -> dict:
    """The real evaluator: the training area's `train_and_validate` (incomplete training, full-image PSNR);
    a candidate whose brief run collapsed to bicubic is trained again with LSUV (`restart`); with
    `checkpoint_dir`, a later rung continues the run an earlier one left there."""
    return train_and_validate(arch, data=data, val=val, steps=steps, seed=seed, batch=batch, patch=patch,
                              lr=lr, schedule=schedule, data_dir=data_dir, precision=precision, init=init,
                              warmup=warmup, horizon=horizon, restart=True, checkpoint_dir=checkpoint_dir)


class ProxyFailed(RuntimeError):
    """The proxy's stand-in for a NaN loss."""


# The proxy's PSNR at this many steps is the same whatever the steps' effect below; searches before that
# effect trained the default 1000 steps and keep their journals.
PROXY_REFERENCE_STEPS = 1000


def proxy_evaluate(arch: Architecture, *, seed: int = 0, steps: int | None = None, sleep: float = 0.0,
                   fail_every: int = 0, kill_marker: str | None = None, **_: Any) -> dict:
    """A cheap, deterministic synthetic evaluator with the shape of `train_and_validate`'s result.

    The "PSNR" grows with the log of the mult-adds, more for 3×3 kernels, skips, long connections and
    efficient cell types, plus a small noise fixed by (seed, architecture): a trade-off with a non-trivial
    Pareto front, for tests and the search-efficiency benchmark. It is not a model of real PSNR.
    With `steps` it follows a learning curve, rising with the steps and more for heavier networks (as
    brief training favours small ones): k·(1 − √(1000 / steps)) dB, k from 0.2 to about 0.8 dB.
    Options for tests: `sleep` seconds of pretend training; `fail_every` k fails one candidate in k (by
    hash); `kill_marker` kills the worker process (SIGKILL) on the first candidate that finds no such file,
    after creating it — a worker dying mid-task. Killing only happens inside a Dask worker.
    """
    t0 = time.perf_counter()
    h = arch.hash()
    if kill_marker and _in_dask_worker() and not os.path.exists(kill_marker):
        with open(kill_marker, "w") as f:
            f.write(h)
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if sleep:
        time.sleep(sleep)
    if fail_every and int(h, 16) % fail_every == 0:
        raise ProxyFailed("loss became NaN (proxy)")
    gflops = mult_adds(arch) / 1e9
    type_gain = {"conv": 0.0, "group2": 0.06, "group4": 0.03, "invbot": 0.1}
    cells = arch.cells
    psnr = 33.0 + 1.6 * math.log10(1.0 + gflops)
    psnr += sum(type_gain[c.type] + (0.08 if c.kernel == 3 else 0.0) + (0.04 if c.skip else 0.0)
                for c in cells) / len(cells) * 3
    psnr += 0.25 * math.log2(receptive_field(arch))
    psnr += 0.3 * sum(arch.connections) / max(len(arch.connections), 1)
    psnr -= 0.05 * math.log10(1.0 + params(arch) / 1e3)
    psnr += float(np.random.default_rng([seed, int(h, 16) % 2**32]).normal(0.0, 0.05))
    if steps is not None:
        psnr += (0.2 + 0.3 * math.log10(1.0 + gflops)) * (1.0 - math.sqrt(PROXY_REFERENCE_STEPS / steps))
    return {"psnr": psnr, "ssim": min(0.999, 0.9 + 0.002 * (psnr - 33.0)), "loss": 10 ** (-psnr / 20),
            "train_seconds": float(sleep), "eval_seconds": 0.0, "proxy": True,
            "elapsed": time.perf_counter() - t0}


EVALUATORS: dict[str, TrainFn] = {"brief": brief_evaluate, "proxy": proxy_evaluate}


def resolve_evaluator(name: str) -> TrainFn:
    """"brief", "proxy" or "package.module:function"."""
    if name in EVALUATORS:
        return EVALUATORS[name]
    module, _, func = name.partition(":")
    if not func:
        raise FalsrError(f"evaluator: {name!r} is not brief, proxy or module:function")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as e:
        raise FalsrError(f"evaluator: cannot load {name!r} ({e})") from None


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"local-{os.getpid()}"


def run_candidate(arch_dict: dict, settings: dict, train_fn: TrainFn | None = None) -> dict:
    """Train and validate one candidate (runs on a worker); every failure becomes a `failed` result."""
    t0 = time.perf_counter()
    arch = Architecture.from_dict(arch_dict)
    fn = train_fn or resolve_evaluator(settings["evaluator"])
    kwargs = {k: v for k, v in settings.items() if k not in ("evaluator", "options")}
    kwargs.update(settings.get("options") or {})
    out: dict[str, Any] = {"worker": _worker_name(), "pid": os.getpid()}
    try:
        result = fn(arch, **kwargs)
        psnr = float(result["psnr"])
        if not math.isfinite(psnr):
            raise ValueError(f"PSNR is {psnr}")
        out.update(status=OK, psnr=psnr, ssim=float(result.get("ssim", float("nan"))),
                   loss=_float(result.get("loss")), train_seconds=_float(result.get("train_seconds")),
                   eval_seconds=_float(result.get("eval_seconds")))
        for key in ("restart", "continued_from"):
            if result.get(key):
                out[key] = result[key]
    except Exception as e:  # noqa: BLE001 — a candidate's failure must never stop the search
        name = type(e).__name__
        reason = str(e).strip().splitlines()[0] if str(e).strip() else name
        if name not in ("CandidateFailed", "ProxyFailed"):
            reason = f"{name}: {reason}"
        out.update(status=FAILED, reason=reason[:300])
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


# ---- the search-side evaluator ----------------------------------------------------------------------


class Evaluator:
    """Batch evaluation with the journal as cache: cost filter, dedupe by hash, streaming results."""

    def __init__(self, problem: FalsrProblem, journal: Journal, pool_factory: Callable[[], Any],
                 cache: dict[str, dict] | None = None, train_fn: TrainFn | None = None,
                 own_pool: bool = True, rung_cache: dict[tuple[str, int], dict] | None = None):
        cfg = problem.config
        self.problem = problem
        self.journal = journal
        self.cache: dict[str, dict] = cache if cache is not None else {}
        # successive halving's finished rung evaluations by (hash, steps): never trained twice
        self.rung_cache: dict[tuple[str, int], dict] = rung_cache if rung_cache is not None else {}
        self.train_fn = train_fn
        self._pool_factory = pool_factory
        self._pool: Any = None
        self._own_pool = own_pool
        self.settings = {
            "evaluator": cfg.evaluator, "steps": cfg.train_steps, "data": cfg.data, "val": cfg.val,
            "batch": cfg.batch, "patch": cfg.patch, "lr": cfg.lr, "schedule": cfg.schedule,
            "init": cfg.init, "warmup": cfg.warmup, "horizon": cfg.horizon, "precision": cfg.precision,
            "data_dir": cfg.data_dir,
            "options": dict(cfg.evaluator_options),
        }

    @property
    def pool(self) -> Any:
        # Started on first use: a resumed generation answered from the journal needs no workers.
        if self._pool is None:
            self._pool = self._pool_factory()
        return self._pool

    def close(self) -> None:
        if self._pool is not None and self._own_pool:
            self._pool.close()
        self._pool = None

    def _record(self, base: dict, result: dict) -> dict:
        rec = {**base, **result}
        F, G = self.problem.objectives(rec)
        rec["objectives"] = [float(v) for v in F]
        rec["constraints"] = {k: float(v) for k, v in zip(self.problem.constraint_names, G, strict=True)}
        rec["finished_at"] = _now()
        return self.journal.append(rec)

    def evaluate(self, X: np.ndarray, generation: int, made_by: dict | None = None,
                 on_result: Callable[[dict], None] | None = None,
                 on_start: Callable[[int], None] | None = None,
                 on_rung: Callable[[int, int], None] | None = None) -> list[dict]:
        """Records for the genomes of X, in order; trains only what is new and within the cost budget.

        `on_start(k)` learns how many candidates train, `on_result(record)` gets each training's record as
        it arrives (under successive halving, each rung's), `on_rung(r, k)` how many train at rung r ≥ 1.
        """
        made_by = made_by or {}
        records: list[dict | None] = [None] * len(X)
        waiting: dict[str, list[int]] = {}
        bases: dict[str, dict] = {}
        archs: dict[str, Architecture] = {}
        for i, x in enumerate(np.asarray(X, dtype=int)):
            key = tuple(int(v) for v in x)
            arch = self.problem.architecture(key)
            h = arch.hash()
            if h in self.cache:
                records[i] = self.cache[h]
                continue
            if h in waiting:
                waiting[h].append(i)
                continue
            flops, prms = self.problem.costs(key)
            base = {"hash": h, "generation": generation, "genome": list(key), "text": arch.to_text(),
                    "operator": made_by.get(key, "initial" if generation == 1 else "crossover"),
                    "mult_adds": flops, "params": prms}
            latency = None
            # Cheap constraints first: a candidate over mult-adds or params is never timed.
            if self.problem.config.latency_max is not None and self.problem.cost_feasible(flops, prms, 0.0):
                base.update(self.problem.latency(key))
                latency = base["latency_ms"]
            if not self.problem.cost_feasible(flops, prms, latency):
                broken = [k for k, v in self.problem.cost_violations(flops, prms, latency).items() if v > 0]
                reason = f"breaks {', '.join(broken)}; not trained"
                rec = self._record(base, {"status": SKIPPED, "reason": reason})
                self.cache[h] = records[i] = rec
                continue
            waiting[h] = [i]
            bases[h] = base
            archs[h] = arch
        if on_start is not None:
            on_start(len(archs))
        halving = self.problem.config.fidelity == "sh"
        results = (self._halving(bases, archs, generation, on_result, on_rung) if halving
                   else self._train(archs, self.problem.config.train_steps))
        for h, result in results:
            rec = self._record(bases[h], result)
            self.cache[h] = rec
            for i in waiting[h]:
                records[i] = rec
            if on_result is not None and not halving:
                on_result(rec)
        missing = [i for i, r in enumerate(records) if r is None]
        if missing:
            raise RuntimeError(f"no result for candidates {missing} of generation {generation}")
        return records  # type: ignore[return-value]

    def _train(self, archs: dict[str, Architecture], steps: int,
               extra: Callable[[str], dict] | None = None) -> Iterator[tuple[str, dict]]:
        """(hash, result) of each architecture trained for `steps` on the pool, as they finish; `extra(h)`
        adds settings of one candidate's task."""
        if not archs:
            return
        tasks = [(h, (arch.to_dict(), {**self.settings, "steps": steps,
                                        "seed": evaluation_seed(self.problem.config.seed, h),
                                        **(extra(h) if extra else {})}))
                 for h, arch in archs.items()]
        for outcome in self.pool.map_unordered(run_candidate, tasks, train_fn=self.train_fn):
            if outcome.value is not None:
                result = dict(outcome.value)
            else:
                result = {"status": FAILED, "reason": outcome.error}
            result["attempts"] = outcome.attempts
            if outcome.lost:
                result["lost"] = outcome.lost
            yield outcome.key, result

    def _halving(self, bases: dict[str, dict], archs: dict[str, Architecture], generation: int,
                 on_result: Callable[[dict], None] | None,
                 on_rung: Callable[[int, int], None] | None) -> list[tuple[str, dict]]:
        """Successive halving over the rungs (fidelity.py): each rung's trainings run in parallel on the
        pool and are journalled as they finish; the (hash, result) of every candidate, in order.

        With a horizon every rung trains the first steps of one schedule, so a promoted candidate continues
        its previous rung's run from the checkpoint that run left in `rungs/<hash>/` (where it is missing,
        e.g. on another machine's worker, it trains from scratch to the same weights); the generation's
        checkpoints are deleted once its last rung is done."""
        cfg = self.problem.config
        rungs: list[int] = cfg.rungs or []
        rung_dir = self.journal.out / RUNG_DIR
        extra = (lambda h: {"checkpoint_dir": str(rung_dir / h)}) if cfg.horizon else None
        trained: dict[str, list[dict]] = {h: [] for h in archs}
        entrants = list(archs)
        for r, steps in enumerate(rungs):
            if r:
                ok = [h for h in entrants if trained[h][-1]["status"] == OK]
                F = np.array([self.problem.objectives({**bases[h], **trained[h][-1]})[0] for h in ok])
                entrants = [ok[i] for i in promoted(F, cfg.promote, cfg.crowding)] if ok else []
                if on_rung is not None:
                    on_rung(r, len(entrants))
            new = {h: archs[h] for h in entrants if (h, steps) not in self.rung_cache}
            for h, result in self._train(new, steps, extra):
                rec = self.journal.append({"hash": h, "generation": generation, "kind": RUNG, "rung": r,
                                           "steps": steps, **result, "finished_at": _now()})
                self.rung_cache[(h, steps)] = rec
                if on_result is not None:
                    on_result(rec)
            for h in entrants:
                trained[h].append(self.rung_cache[(h, steps)])
        for h in archs:
            shutil.rmtree(rung_dir / h, ignore_errors=True)
        gains = rung_gains([r for r in self.rung_cache.values() if r["generation"] <= generation], rungs)
        return [(h, final_result(trained[h], gains)) for h in archs]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
