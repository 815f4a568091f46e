"""The search loop: pymoo NSGA-II asked and told one generation at a time, resumable after any crash.

Each generation: `algorithm.ask()` gives the offspring (generation 1: the initial population); the evaluator
trains what is new (results stream into the journal); `algorithm.tell()` runs the survival (rank, then the
crowding distance); the RL controller learns from its proposals; a snapshot of the whole search state is
written; a table row is printed and pareto.json rewritten.

Resume: the newest snapshot restores the population, the generator, the controller and the history; the
generations after it are asked again — the restored generator gives the same offspring — and answered
from the journal where their evaluations had finished. Results are told in the offspring's order, not in
the order workers finish them, so with a fixed seed the search is the same on one worker or many, and the
final front of an interrupted and resumed run equals that of an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from falsr_cli.atomic import write_json
from falsr_cli.errors import FalsrError
from falsr_cli.search.config import SearchConfig, check_compatible, format_count
from falsr_cli.search.evaluator import Evaluator, TrainFn
from falsr_cli.search.journal import Journal
from falsr_cli.search.problem import FAILED, OK, SKIPPED, FalsrProblem
from falsr_cli.search.report import (
    best_psnr_within_budget,
    hypervolume,
    pareto_document,
    reference_point,
    update_front,
)


@dataclass
class SearchResult:
    """The outcome of `run_search`: where it is, how far it went, and its front."""

    out: Path
    generation: int
    evaluations: int
    front: list[dict]
    history: list[dict] = field(default_factory=list)
    hypervolume: float = 0.0


def load_saved_config(out: str | Path) -> SearchConfig:
    """The config of the search in `out` (for --resume); FalsrError when there is none."""
    saved = Journal(out).read_config()
    if saved is None:
        raise FalsrError(f"--resume: no search in {out} (no config.json)")
    return saved


def reward(problem: FalsrProblem, record: dict, baseline: float) -> float:
    """The controller's reward: PSNR minus `penalty` dB per unit of constraint violation.

    A candidate that was not trained (it broke a cost constraint) or failed has no PSNR; it is given the
    baseline, so that its advantage is exactly minus its penalty (a failure counts as a violation of 1).
    """
    psnr = float(record["psnr"]) if record["status"] == OK else baseline
    return psnr - problem.config.penalty * problem.violation(record)


def make_algorithm(config: SearchConfig, controller: Any = None):
    """pymoo's NSGA2 with our sampling, crossover, mutation, crowding and duplicate elimination."""
    from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
    from pymoo.operators.selection.tournament import TournamentSelection

    from falsr_cli.search.crowding import survival
    from falsr_cli.search.operators import (
        GenomeDuplicateElimination,
        HybridMutation,
        InitialSampling,
        MacroMicroCrossover,
    )

    return NSGA2(
        pop_size=config.pop,
        sampling=InitialSampling(config),
        selection=TournamentSelection(func_comp=binary_tournament, pressure=2),
        crossover=MacroMicroCrossover(config),
        mutation=HybridMutation(config, controller),
        survival=survival(config.crowding),
        eliminate_duplicates=GenomeDuplicateElimination(),
    )


def _tell_values(pop: Any, problem: FalsrProblem, F: np.ndarray, G: np.ndarray) -> None:
    # pymoo's documented ask/tell route: a StaticProblem hands the values over, the Evaluator derives CV.
    from pymoo.core.evaluator import Evaluator as PymooEvaluator
    from pymoo.problems.static import StaticProblem

    PymooEvaluator().eval(StaticProblem(problem, F=F, G=G), pop)


def algorithm_state(algorithm: Any) -> dict[str, Any]:
    pop = algorithm.pop
    return {
        "n_iter": int(algorithm.n_iter),
        "X": pop.get("X").astype(int).tolist(),
        "F": pop.get("F").tolist(),
        "G": pop.get("G").tolist(),
        # Infeasible survivors may carry no rank or crowding (None) or a stale one: saved as they are.
        "rank": [None if v is None else int(v) for v in pop.get("rank")],
        "crowding": [None if v is None else float(v) for v in pop.get("crowding")],
        "random_state": algorithm.random_state.bit_generator.state,
    }


def restore_algorithm(algorithm: Any, problem: FalsrProblem, state: dict[str, Any]) -> None:
    """Put a set-up NSGA2 into the state saved by `algorithm_state`."""
    from pymoo.core.population import Population

    pop = Population.new("X", np.array(state["X"], dtype=int))
    _tell_values(pop, problem, np.array(state["F"], dtype=float),
                 np.array(state["G"], dtype=float).reshape(len(pop), -1))
    for ind, rank, crowding in zip(pop, state["rank"], state["crowding"], strict=True):
        ind.set("rank", rank)
        ind.set("crowding", crowding)
    algorithm.pop = pop
    algorithm.is_initialized = True
    algorithm.n_iter = int(state["n_iter"])
    algorithm.random_state.bit_generator.state = state["random_state"]
    algorithm.start_time = time.time()
    algorithm._set_optimum()


def build_controller(config: SearchConfig):
    """The RL controller when the configuration ever exploits, else None (and no TensorFlow)."""
    if config.p_exploit <= 0 and not (config.p_exploit_end or 0) > 0:
        return None
    from falsr_cli.search.controller import Controller

    return Controller(config.n, hidden=config.controller_hidden, embed=config.controller_embed,
                      lr=config.controller_lr, baseline_decay=config.baseline_decay, seed=config.seed)


class _Row:
    """The per-generation table: a header once, then one aligned row per generation."""

    COLUMNS = (("gen", 4), ("evaluations\ntrained/skip/fail", 17), ("feasible", 8), ("front", 5),
               ("hypervolume", 11), ("best PSNR\n≤ budget", 10), ("elapsed", 8))

    def __init__(self, console: Any):
        self.console = console
        self.header_done = False

    def print(self, h: dict) -> None:
        from rich.table import Table

        table = Table(box=None, show_header=not self.header_done, header_style="bold", pad_edge=False)
        for name, width in self.COLUMNS:
            table.add_column(name, justify="right", width=width, no_wrap=True)
        best = "-" if h["best_psnr"] is None else f"{h['best_psnr']:.3f} dB"
        table.add_row(str(h["generation"]), f"{h['trained'] - h['failed']}/{h['skipped']}/{h['failed']}",
                      str(h["feasible"]), str(h["front"]), f"{h['hypervolume']:.4g}", best,
                      _clock(h["elapsed"]))
        self.console.print(table)
        self.header_done = True


def _on_result(record: dict, bar: Any, task: Any, quiet: bool) -> None:
    bar.advance(task)
    if record.get("lost") and not quiet:
        from falsr_cli.console import err_console

        outcome = "then trained" if record["status"] == OK else record.get("reason", "failed")
        err_console.print(f"note: a worker died while training {record['hash']} "
                          f"({record['attempts']} attempts, {outcome})")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _check_data(config: SearchConfig) -> None:
    """Fail before the first generation if --data or --val names no images (and fetch them once, here),
    rather than recording every candidate as failed."""
    from falsr_cli.data.pairs import list_hr_files
    from falsr_cli.train.pipeline import split_spec

    for spec in [*split_spec(config.data), config.val]:
        list_hr_files(spec, data_dir=config.data_dir)


def run_search(config: SearchConfig, *, train_fn: TrainFn | None = None, quiet: bool = False,
               stop_after: int | None = None, pool: Any = None) -> SearchResult:
    """Run (or continue) the search of `config` in `config.out`; see the module docstring.

    `train_fn` replaces the configured evaluator (tests); `stop_after` ends this call after that many
    generations of this process, leaving a resumable run; `pool` is a started pool (workers.py) to use
    instead of the configured one — it is left open.
    """
    from falsr_cli.console import console, err_console, progress
    from falsr_cli.search.workers import make_pool

    config.validate()
    if not config.out:
        raise FalsrError("--out: a folder for the search is required")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise FalsrError(f"--out: {out} is a file, not a folder")
    if train_fn is None and config.evaluator == "brief" and not config.scheduler:
        _check_data(config)  # local workers share this file system (a remote cluster may not)
    journal = Journal(out)
    saved = journal.read_config()
    if saved is not None:
        check_compatible(saved, config)
    journal.write_config(config)

    problem = FalsrProblem(config)
    controller = build_controller(config)
    algorithm = make_algorithm(config, controller)
    from pymoo.core.termination import NoTermination

    algorithm.setup(problem, seed=config.seed, termination=NoTermination(), verbose=False)
    mutation, dedup = algorithm.mating.mutation, algorithm.eliminate_duplicates

    records = journal.read_evaluations()
    cache = {r["hash"]: r for r in records}
    generation, history, elapsed_before = 0, [], 0.0
    snap = journal.latest_snapshot()
    if snap is not None:
        state, folder = snap
        restore_algorithm(algorithm, problem, state["algorithm"])
        if controller is not None and (folder / "controller.npz").is_file():
            controller.load(folder / "controller.npz")
        generation, history = int(state["generation"]), state["history"]
        elapsed_before = float(state["elapsed"])
    done = [r for r in records if r["generation"] <= generation]
    dedup.archive = {tuple(r["genome"]) for r in done}
    front = update_front([], done, problem)
    best = best_psnr_within_budget(done, config)
    ref = reference_point(config)
    n_evals = len(done)

    row = _Row(console)
    if not quiet:
        what = "continuing" if generation else "starting"
        err_console.print(f"[bold]falsr search[/]: {what} in {out} at generation {generation + 1} of "
                          f"{config.generations}; n = {config.n}, population {config.pop}, evaluator "
                          f"{config.evaluator}, budget mult-adds {format_count(config.flops_max)}, "
                          f"params {format_count(config.params_max)}")
        for h in history:
            row.print(h)

    def make() -> Any:
        started_pool = pool if pool is not None else make_pool(config.workers, config.scheduler)
        if not quiet:
            err_console.print(f"evaluating {started_pool.description}")
        return started_pool

    evaluator = Evaluator(problem, journal, make, cache=cache, train_fn=train_fn, own_pool=pool is None)
    started = time.perf_counter()
    ran = 0
    try:
        while generation < config.generations:
            trained_so_far = sum(h["trained"] for h in history)
            if config.max_evals is not None and trained_so_far >= config.max_evals:
                break
            if stop_after is not None and ran >= stop_after:
                break
            off = algorithm.ask()
            if off is None or len(off) == 0:
                if not quiet:
                    err_console.print("no new offspring can be made (the space is exhausted); stopping")
                break
            generation += 1
            X = off.get("X").astype(int)
            hide = quiet or not config.progress or not err_console.is_terminal
            with progress(transient=True, disable=hide) as bar:
                task = bar.add_task(f"generation {generation}", total=None)
                recs = evaluator.evaluate(
                    X, generation, made_by=mutation.made_by,
                    on_start=lambda k, t=task, b=bar: b.update(t, total=k),
                    on_result=lambda r, t=task, b=bar: _on_result(r, b, t, quiet),
                )
            FG = [problem.objectives(r) for r in recs]
            _tell_values(off, problem, np.array([f for f, _ in FG]), np.array([g for _, g in FG]))
            algorithm.tell(infills=off)
            dedup.archive.update(tuple(int(v) for v in x) for x in X)

            if controller is not None:
                rl = [i for i, x in enumerate(X) if mutation.made_by.get(tuple(int(v) for v in x)) == "rl"]
                if rl:
                    ok = [recs[i]["psnr"] for i in rl if recs[i]["status"] == OK]
                    base = controller.baseline if controller.baseline is not None else (
                        float(np.mean(ok)) if ok else ref["psnr"])
                    controller.update(X[rl], np.array([reward(problem, recs[i], base) for i in rl]))
            mutation.made_by.clear()

            new = [r for r in recs if r["generation"] == generation]
            n_evals += len({r["hash"] for r in new})
            front = update_front(front, new, problem)
            best_new = best_psnr_within_budget(new, config)
            if best_new is not None and (best is None or best_new > best):
                best = best_new
            hv = hypervolume(front, ref)
            feasible = int(np.sum(algorithm.pop.get("FEAS"))) if algorithm.pop is not None else 0
            unique_new = {r["hash"]: r for r in new}.values()
            h = {
                "generation": generation,
                "trained": sum(r["status"] in (OK, FAILED) for r in unique_new),
                "skipped": sum(r["status"] == SKIPPED for r in unique_new),
                "failed": sum(r["status"] == FAILED for r in unique_new),
                "feasible": feasible,
                "front": len(front),
                "hypervolume": hv,
                "best_psnr": best,
                "elapsed": elapsed_before + time.perf_counter() - started,
            }
            history.append(h)
            first_of_this_run = ran == 0
            journal.save_snapshot(generation, {
                "generation": generation,
                "elapsed": h["elapsed"],
                "algorithm": algorithm_state(algorithm),
                "history": history,
                "evaluations": n_evals,
            }, controller)
            write_json(out / "pareto.json", pareto_document(config, front, generation, hv, n_evals))
            ran += 1
            if not quiet:
                row.print(h)
                if first_of_this_run and generation < config.generations:
                    err_console.print(estimate_text(config, h, h["elapsed"] - elapsed_before))
            check_generation(generation, list(unique_new))
    finally:
        evaluator.close()

    all_records = journal.read_evaluations()
    finished = [r for r in all_records if r["generation"] <= generation]
    hv = hypervolume(front, ref)
    if generation:
        # Again here: a kill between the last snapshot and pareto.json must not leave a stale front.
        write_json(out / "pareto.json", pareto_document(config, front, generation, hv, n_evals))
        write_reports(out, config, finished, front, history)
        if not quiet:
            err_console.print(f"front: {len(front)} networks in {out / 'pareto.json'}; "
                              f"plots: {out / 'pareto.png'}, {out / 'history.png'}")
    return SearchResult(out=out, generation=generation, evaluations=n_evals, front=front, history=history,
                        hypervolume=hv)


def check_generation(generation: int, records: list[dict]) -> None:
    """A generation with no successful evaluation ends the search with the reasons, counted.

    Generation 1 always; later ones when at least half of their candidates failed to train.
    """
    if not records or any(r["status"] == OK for r in records):
        return
    failed = sum(r["status"] == FAILED for r in records)
    if generation > 1 and 2 * failed < len(records):
        # Offspring of a tight budget may all be over it for a while, with a stray failure: the parents
        # still stand. A generation that mostly fails is a broken setup.
        return
    reasons: dict[str, int] = {}
    for r in records:
        key = "over the cost budget" if r["status"] == SKIPPED else r.get("reason", "failed")
        reasons[key] = reasons.get(key, 0) + 1
    counts = "; ".join(f"{n} × {k}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    if all(r["status"] == SKIPPED for r in records):
        raise FalsrError(f"generation {generation}: all {len(records)} candidates break the cost budget "
                         f"(none trained); loosen --flops-max/--params-max or lower --n")
    raise FalsrError(f"generation {generation}: no candidate trained successfully ({counts})")


def estimate_text(config: SearchConfig, h: dict, per_gen: float) -> str:
    """What the whole search will take on this machine, from a generation's wall time `per_gen`."""
    trained = max(1, h["trained"])
    left = config.generations - h["generation"]
    if config.max_evals is not None:
        left = min(left, max(0, math.ceil((config.max_evals - h["trained"]) / trained)))
    total = h["elapsed"] + left * per_gen
    fit = max(1, int(3600 // max(per_gen, 1e-9)))
    return (f"estimate: {h['generation'] + left} generations ≈ {_clock(total)} on this machine "
            f"({per_gen / trained:.1f} s per trained candidate, {per_gen:.0f} s per generation); "
            f"about {fit} generation{'s' if fit > 1 else ''} fit in an hour (--generations {fit}), "
            f"or give fewer --train-steps or a smaller --pop")


def write_reports(out: Path, config: SearchConfig, records: list[dict], front: list[dict],
                  history: list[dict]) -> None:
    """pareto.png and history.png (pareto.json is rewritten every generation)."""
    from falsr_cli.search.report import load_published, plot_history, plot_pareto

    published = load_published() if config.val.lower() == "set5" else None
    plot_pareto(out / "pareto.png", records, front, config, published)
    plot_history(out / "history.png", history)
