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

import contextlib
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.atomic import read_json, write_json
from falsr_cli.cost.summary import parse_hw
from falsr_cli.data.pairs import list_hr_files
from falsr_cli.data.reference import published_figures
from falsr_cli.errors import FalsrError
from falsr_cli.models.latency import MAX_SIDE, measure_network, random_luma_model
from falsr_cli.outputs import folder_lock
from falsr_cli.reporting import BarFactory
from falsr_cli.search.config import SearchConfig, check_compatible, expected_work
from falsr_cli.search.controller import Controller
from falsr_cli.search.crowding import survival
from falsr_cli.search.evaluator import Evaluator, TrainFn
from falsr_cli.search.journal import RUNG, Journal
from falsr_cli.search.problem import FAILED, OK, SKIPPED, FalsrProblem
from falsr_cli.search.report import (
    best_psnr_within_budget,
    hypervolume,
    pareto_document,
    reference_point,
    update_front,
)
from falsr_cli.train.pipeline import split_spec
from falsr_cli.units import format_count

if TYPE_CHECKING:
    from pymoo.algorithms.moo.nsga2 import NSGA2


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
    journal = Journal(out)
    saved = journal.read_config()
    if saved is None:
        raise FalsrError(f"--resume: no search in {out} (no config.json)")
    try:
        saved.validate()
    except FalsrError as e:  # an edited config.json: name the file, not an option the user did not give
        raise FalsrError(f"{journal.config_path}: {e}; restore the value the search started with or start "
                         "a new --out") from None
    return saved


def reward(problem: FalsrProblem, record: dict, baseline: float) -> float:
    """The controller's reward: PSNR minus `penalty` dB per unit of constraint violation.

    A candidate that was not trained (it broke a cost constraint) or failed has no PSNR; it is given the
    baseline, so that its advantage is exactly minus its penalty (a failure counts as a violation of 1).
    """
    psnr = float(record["psnr"]) if record["status"] == OK else baseline
    return psnr - problem.config.penalty * problem.violation(record)


def make_algorithm(config: SearchConfig, controller: Controller | None = None) -> NSGA2:
    """pymoo's NSGA2 with our sampling, crossover, mutation, crowding and duplicate elimination."""
    from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
    from pymoo.operators.selection.tournament import TournamentSelection

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

    return Controller(config.n, hidden=config.controller_hidden, embed=config.controller_embed,
                      lr=config.controller_lr, baseline_decay=config.baseline_decay, seed=config.seed,
                      space=config.space)


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _check_data(config: SearchConfig) -> None:
    """Fail before the first generation if --data or --val names no images (and fetch them once, here),
    rather than recording every candidate as failed."""
    for spec in [*split_spec(config.data), config.val]:
        list_hr_files(spec, data_dir=config.data_dir)


Log = Callable[[str], None]


@dataclass
class _Search:
    """One call of `run_search`: the configured problem, algorithm, journal and what has been run so far."""

    config: SearchConfig
    out: Path
    journal: Journal
    problem: FalsrProblem
    controller: Controller | None
    algorithm: Any
    generation: int = 0
    history: list[dict] = field(default_factory=list)
    elapsed_before: float = 0.0
    carried: float = 0.0  # what killed processes spent on the generation this one resumes
    front: list[dict] = field(default_factory=list)
    best: float | None = None
    n_evals: int = 0
    cache: dict[str, dict] = field(default_factory=dict)
    rung_cache: dict[tuple[str, int], dict] = field(default_factory=dict)


def _open(config: SearchConfig, train_fn: TrainFn | None, say: Log) -> _Search:
    """Check the run folder and data, set NSGA-II up, and restore the newest intact snapshot if there is
    one (a damaged one — edited, emptied, a truncated controller file — gives way to the one before)."""
    out = Path(config.out)
    if train_fn is None and not config.scheduler:
        # Local workers share this file system and these modules (a remote cluster may not): an evaluator
        # that cannot load, or data that is not there, fails here, not once per candidate.
        from falsr_cli.search.evaluator import resolve_evaluator

        resolve_evaluator(config.evaluator)
        if config.evaluator == "brief":
            _check_data(config)
    journal = Journal(out)
    saved = journal.read_config()
    if config.precision == "auto" and config.evaluator == "brief":
        from falsr_cli.train.trainer import resolve_precision

        # Resolved here, once, so every candidate trains alike whichever worker (or machine) runs it.
        config.precision = saved.precision if saved is not None else resolve_precision("auto")
    if saved is not None:
        check_compatible(saved, config)
    journal.write_config(config)

    problem = FalsrProblem(config)
    st = _restore(config, journal, problem, say)
    records = journal.read_evaluations()
    st.cache = {r["hash"]: r for r in records}
    st.rung_cache = {(r["hash"], int(r["steps"])): r for r in journal.read_rungs()}
    done = [r for r in records if r["generation"] <= st.generation]
    st.algorithm.eliminate_duplicates.archive = {tuple(r["genome"]) for r in done}
    st.front = update_front([], done, problem)
    st.best = best_psnr_within_budget(done, config)
    st.n_evals = len(done)
    st.carried = carried_seconds(journal.read_records(), st.generation + 1, config)
    return st


def carried_seconds(records: list[dict], generation: int, config: SearchConfig) -> float:
    """Seconds already spent on `generation` by earlier processes (a search killed in the middle of it),
    from its journalled evaluations' wall times — successive halving's rung records, which hold them all —
    over the workers that ran them side by side: without them the generation's time, the search's elapsed
    time and the estimate made from them count only the resumed process's share."""
    rungs = config.fidelity == "sh"
    spent = sum(float(r.get("wall_seconds") or 0.0) for r in records
                if r.get("generation") == generation and (r.get("kind") == RUNG) == rungs)
    return spent / max(1, config.workers)


def _set_up(config: SearchConfig, journal: Journal, problem: FalsrProblem) -> _Search:
    from pymoo.core.termination import NoTermination

    controller = build_controller(config)
    algorithm = make_algorithm(config, controller)
    # The loop below asks and tells one generation at a time and decides itself when to stop.
    algorithm.setup(problem, seed=config.seed, termination=NoTermination(), verbose=False)
    return _Search(config, Path(config.out), journal, problem, controller, algorithm)


def _restore(config: SearchConfig, journal: Journal, problem: FalsrProblem, say: Log) -> _Search:
    """A set-up search in the state of the newest snapshot that restores whole (a fresh one if none does:
    the journal then answers every evaluation already made)."""
    for state, folder in journal.snapshot_states():
        st = _set_up(config, journal, problem)
        try:
            if state is None:
                raise ValueError("state.json is not a JSON object")
            restore_algorithm(st.algorithm, problem, state["algorithm"])
            if st.controller is not None and (folder / "controller.npz").is_file():
                st.controller.load(folder / "controller.npz")
            st.generation, st.history = int(state["generation"]), list(state["history"])
            st.elapsed_before = float(state["elapsed"])
            return st
        except (KeyError, TypeError, ValueError, IndexError, AssertionError, OSError, EOFError,
                zipfile.BadZipFile) as e:
            say(f"note: the snapshot {folder} is damaged ({type(e).__name__}: {str(e)[:80]}); resuming from "
                "the one before it")
    return _set_up(config, journal, problem)


def _profile_progress(say: Log, progress: BarFactory, quiet: bool) -> Callable[[str, int, int], None]:
    """Progress of a latency profile being built (minutes of silence otherwise): a bar per stage when a
    progress factory is given, else a line at each tenth of a stage."""
    bars = contextlib.ExitStack()
    tasks: dict[str, Any] = {}
    said: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        if not tasks and not said:
            say("building this machine's latency profile, once (a few minutes): every operation of the "
                "space, then whole networks to calibrate it")
        if progress is not None:
            if stage not in tasks:
                bars.close()
                bar = bars.enter_context(progress(transient=True))
                tasks[stage] = (bar, bar.add_task(f"latency profile: {stage}", total=total))
            bar, task = tasks[stage]
            bar.update(task, completed=done)
            if done >= total:
                bars.close()
        elif done * 10 // max(total, 1) > said.get(stage, -1) or done == total:
            said[stage] = done * 10 // max(total, 1)
            say(f"latency profile: {stage} {done}/{total}")

    return report


def _should_stop(st: _Search, ran: int, stop_after: int | None) -> bool:
    """The stop rule: the generations are done, the evaluation budget is spent, or this call's share is."""
    if st.generation >= st.config.generations:
        return True
    trained = sum(h["trained"] for h in st.history)
    if st.config.max_evals is not None and trained >= st.config.max_evals:
        return True
    return stop_after is not None and ran >= stop_after


def _update_controller(st: _Search, X: np.ndarray, recs: list[dict], made_by: dict) -> None:
    """One policy-gradient step on the RL controller's own proposals of this generation."""
    if st.controller is None:
        return
    rl = [i for i, x in enumerate(X) if made_by.get(tuple(int(v) for v in x)) == "rl"]
    if not rl:
        return
    ok = [recs[i]["psnr"] for i in rl if recs[i]["status"] == OK]
    ref = reference_point(st.config)
    base = st.controller.baseline if st.controller.baseline is not None else (
        float(np.mean(ok)) if ok else ref["psnr"])
    st.controller.update(X[rl], np.array([reward(st.problem, recs[i], base) for i in rl]))


def _history_row(st: _Search, new: list[dict], seconds: float) -> dict:
    """The generation's line of the history (and of the table): counts, front, hypervolume, best, time."""
    unique_new = {r["hash"]: r for r in new}.values()
    pop = st.algorithm.pop
    return {
        "generation": st.generation,
        "trained": sum(r["status"] in (OK, FAILED) for r in unique_new),
        "skipped": sum(r["status"] == SKIPPED for r in unique_new),
        "failed": sum(r["status"] == FAILED for r in unique_new),
        "feasible": int(np.sum(pop.get("FEAS"))) if pop is not None else 0,
        "front": len(st.front),
        "hypervolume": hypervolume(st.front, reference_point(st.config)),
        "best_psnr": st.best,
        "elapsed": st.elapsed_before + st.carried + seconds,
        **({"rungs": rung_counts(list(unique_new), st.config)} if st.config.fidelity == "sh" else {}),
    }


def rung_counts(records: list[dict], config: SearchConfig) -> list[int]:
    """How many of a generation's candidates were trained at each rung (successive halving)."""
    reached = [r["rung"] for r in records if r["status"] in (OK, FAILED)]
    return [sum(k >= rung for k in reached) for rung in range(len(config.rungs or []))]


def _next_generation(st: _Search, evaluator: Evaluator, on_progress: Any) -> dict | None:
    """Ask, evaluate, tell, learn, snapshot: one generation; its history row, or None if none can be made."""
    algorithm, problem = st.algorithm, st.problem
    mutation, dedup = algorithm.mating.mutation, algorithm.eliminate_duplicates
    off = algorithm.ask()
    if off is None or len(off) == 0:
        return None
    st.generation += 1
    X = off.get("X").astype(int)
    callbacks = on_progress(st.generation, len(X))
    recs = evaluator.evaluate(X, st.generation, made_by=mutation.made_by, **callbacks)
    FG = [problem.objectives(r) for r in recs]
    _tell_values(off, problem, np.array([f for f, _ in FG]), np.array([g for _, g in FG]))
    algorithm.tell(infills=off)
    dedup.archive.update(tuple(int(v) for v in x) for x in X)
    _update_controller(st, X, recs, mutation.made_by)
    mutation.made_by.clear()

    new = [r for r in recs if r["generation"] == st.generation]
    st.n_evals += len({r["hash"] for r in new})
    st.front = update_front(st.front, new, problem)
    best_new = best_psnr_within_budget(new, st.config)
    if best_new is not None and (st.best is None or best_new > st.best):
        st.best = best_new
    return {"new": new}


def _save(st: _Search, h: dict) -> None:
    """The snapshot a resumed search starts from, and pareto.json as of this generation."""
    st.journal.save_snapshot(st.generation, {
        "generation": st.generation,
        "elapsed": h["elapsed"],
        "algorithm": algorithm_state(st.algorithm),
        "history": st.history,
        "evaluations": st.n_evals,
    }, st.controller)
    write_json(st.out / "pareto.json",
               pareto_document(st.config, st.front, st.generation, h["hypervolume"], st.n_evals,
                               history=st.history))


def run_search(config: SearchConfig, *, train_fn: TrainFn | None = None, quiet: bool = False,
               stop_after: int | None = None, pool: Any = None, log: Log | None = None,
               on_generation: Callable[[dict], None] | None = None,
               progress: BarFactory | None = None) -> SearchResult:
    """Run (or continue) the search of `config` in `config.out`; see the module docstring.

    `train_fn` replaces the configured evaluator (tests); `stop_after` ends this call after that many
    generations of this process, leaving a resumable run; `pool` is a started pool (workers.py) to use
    instead of the configured one — it is left open. Nothing is printed: `log(message)` receives the
    notes (start, workers, the time estimate, the end), `on_generation(row)` each history row (also the
    restored ones), and `progress` (a factory like `falsr_cli.console.progress`) draws a bar per
    generation. `quiet` silences all three. One process at a time works on a search folder (a lock).
    """
    config.validate()
    if not config.out:
        raise FalsrError("--out: a folder for the search is required")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise FalsrError(f"--out: {out} is a file, not a folder")
    if (out.is_dir() and not (out / "config.json").is_file()
            and any(not p.name.startswith(".") for p in out.iterdir())):
        # Its config.json, pareto.json, plots… would replace files of the same names there.
        raise FalsrError(f"--out {out} exists and is not a search folder; give an empty or new folder")
    with folder_lock(out, "search"):  # one process per search folder
        return _run(config, train_fn, quiet, stop_after, pool, log, on_generation, progress)


def _run(config: SearchConfig, train_fn: TrainFn | None, quiet: bool, stop_after: int | None, pool: Any,
         log: Log | None, on_generation: Callable[[dict], None] | None, progress: BarFactory) -> SearchResult:
    from falsr_cli.search.workers import make_pool

    say: Log = (lambda _m: None) if quiet or log is None else log
    row: Callable[[dict], None] = (lambda _h: None) if quiet or on_generation is None else on_generation
    st = _open(config, train_fn, say)
    what = "continuing" if st.generation else "starting"
    say(f"falsr search: {what} in {st.out} at generation {st.generation + 1} of {config.generations}; "
        f"n = {config.n}, population {config.pop}, evaluator {config.evaluator}, budget mult-adds "
        f"{format_count(config.flops_max)}, params {format_count(config.params_max)}"
        + (f", latency {config.latency_max:g} ms ({config.latency_runtime}, {config.latency_input})"
           if config.latency_max is not None else ""))
    if config.latency_max is not None:
        path = st.problem.prepare_latency(progress=_profile_progress(say, progress, quiet))
        say(f"latency model: this machine's profile {path}")
    for h in st.history:
        row(h)

    def make() -> Any:
        started_pool = pool if pool is not None else make_pool(config.workers, config.scheduler)
        say(f"evaluating {started_pool.description}")
        return started_pool

    evaluator = Evaluator(st.problem, st.journal, make, cache=st.cache, train_fn=train_fn,
                          own_pool=pool is None, rung_cache=st.rung_cache)
    started = time.perf_counter()
    ran = 0
    bars = contextlib.ExitStack()
    early = EarlyEstimate(config, first=st.generation == 0)

    def on_progress(generation: int, offspring: int) -> dict[str, Any]:
        # A bar per generation when asked for; lost workers are reported through `say`.
        bar, task = None, None
        if progress is not None and not quiet:
            bars.close()
            bar = bars.enter_context(progress(transient=True))
            task = bar.add_task(f"generation {generation}", total=None)

        def on_result(record: dict) -> None:
            if bar is not None:
                bar.advance(task)
            early.add(record)
            if early.ready():
                say(early.text())
            if record.get("lost"):
                outcome = "then trained" if record["status"] == OK else record.get("reason", "failed")
                say(f"note: a worker died while training {record['hash']} "
                    f"({record['attempts']} attempts, {outcome})")

        total = [0]  # trainings of the generation so far: successive halving adds each rung's

        def on_start(k: int) -> None:
            early.plan(k, offspring)
            total[0] = k
            if bar is not None:
                bar.update(task, total=k)

        def on_rung(rung: int, k: int) -> None:
            total[0] += k
            if bar is not None:
                bar.update(task, total=total[0], description=f"generation {generation}, rung {rung} "
                                                             f"({(config.rungs or [])[rung]} steps)")

        return {"on_start": on_start, "on_result": on_result, "on_rung": on_rung}

    try:
        while not _should_stop(st, ran, stop_after):
            step = _next_generation(st, evaluator, on_progress)
            bars.close()
            if step is None:
                say("no new offspring can be made (the space is exhausted); stopping")
                break
            h = _history_row(st, step["new"], time.perf_counter() - started)
            st.history.append(h)
            _save(st, h)
            ran += 1
            row(h)
            if ran == 1 and st.generation < config.generations:
                say(estimate_text(config, h, h["elapsed"] - st.elapsed_before))
            check_generation(st.generation, list({r["hash"]: r for r in step["new"]}.values()))
    finally:
        bars.close()
        evaluator.close()
    return _finish(st, say)


def _finish(st: _Search, say: Log) -> SearchResult:
    """pareto.json once more (a kill after the last snapshot must not leave it stale), and the plots."""
    finished = [r for r in st.journal.read_evaluations() if r["generation"] <= st.generation]
    removed: list[dict] = []
    if st.generation and st.config.latency_max is not None:
        st.front, removed = _with_measured_latency(st, finished, say)
    hv = hypervolume(st.front, reference_point(st.config))
    if st.generation:
        doc = pareto_document(st.config, st.front, st.generation, hv, st.n_evals, removed=removed,
                              history=st.history)
        write_json(st.out / "pareto.json", doc)
        write_reports(st.out, st.config, finished, st.front, st.history)
        say(f"front: {len(st.front)} networks in {st.out / 'pareto.json'}; "
            f"plots: {st.out / 'pareto.png'}, {st.out / 'history.png'}")
    return SearchResult(out=st.out, generation=st.generation, evaluations=st.n_evals, front=st.front,
                        history=st.history, hypervolume=hv)


def _with_measured_latency(st: _Search, records: list[dict], say: Log) -> tuple[list[dict], list[dict]]:
    """(front, removed): every front member's latency measured now (training is over: the cores are
    quiet), kept in front_latency.json so that a resumed search measures only new members. The measurement
    decides: a member measured over --latency-max leaves the front (its record counts as over the budget)
    and the front is formed again from the rest until every member is measured within the budget."""
    path = st.out / "front_latency.json"
    try:
        known = read_json(path) if path.is_file() else {}
    except FalsrError:
        known = {}  # a damaged cache of measurements: measured again
    if not isinstance(known, dict):
        known = {}
    known = {k: float(v) for k, v in known.items() if isinstance(v, int | float)}
    c, threads = st.config, (st.problem.latency_profile or {}).get("threads")
    pool = {r["hash"]: r for r in records}
    removed: list[dict] = []
    while True:
        front = update_front([], list(pool.values()), st.problem)
        over = []
        for r in front:
            if r["hash"] not in known:
                if "latency_measured_ms" in r:
                    known[r["hash"]] = r["latency_measured_ms"]
                else:
                    arch = st.problem.architecture(r["genome"])
                    hw = parse_hw(c.latency_input, "--latency-input", MAX_SIDE)
                    known[r["hash"]] = measure_network(random_luma_model(arch), c.latency_runtime,
                                                       threads or 1, hw, runs=7, warmup=2)["median_ms"]
            if known[r["hash"]] > c.latency_max:
                over.append(r)
        if not over:
            break
        for r in over:
            pool[r["hash"]] = {**r, "latency_ms": known[r["hash"]], "latency_measured_ms": known[r["hash"]]}
            removed.append({"hash": r["hash"], "text": r.get("text"),
                            "latency_predicted_ms": r.get("latency_predicted_ms"),
                            "latency_measured_ms": known[r["hash"]], "latency_max": c.latency_max})
    write_json(path, known)
    say(f"latency of the {len(front)} front members measured ({c.latency_runtime}, {c.latency_input})")
    for m in removed:
        predicted = m["latency_predicted_ms"]
        guess = f" (predicted {predicted:.1f} ms)" if predicted is not None else ""
        say(f"note: {m['hash']} removed from the front: measured {m['latency_measured_ms']:.1f} ms, over "
            f"--latency-max {c.latency_max:g} ms{guess}")
    return [{**r, "latency_measured_ms": known[r["hash"]]} for r in front], removed


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


class EarlyEstimate:
    """The whole search's cost, said once after the first few candidates have trained (a generation of the
    paper's setting takes hours on a CPU: the user should not wait that long to learn the total).

    A candidate's cost is its training seconds per step times the steps an average candidate trains
    (under successive halving rung_0 + promote·rung_1 + promote²·rung_2 …, less what continued rungs do not
    train again: config.expected_work) plus its
    validation seconds times the validations it gets."""

    AFTER = 3  # trained candidates (under successive halving: trainings at the first rung)

    def __init__(self, config: SearchConfig, first: bool) -> None:
        self.config = config
        self.enabled = first
        self.trained = 0
        self.train_seconds = self.eval_seconds = 0.0
        self.steps = 0
        self.to_train = self.offspring = config.pop

    def plan(self, to_train: int, offspring: int) -> None:
        """How many of the generation's candidates are trained (the rest are over the cost budget)."""
        self.to_train, self.offspring = to_train, max(1, offspring)

    def add(self, record: dict) -> None:
        if record["status"] in (OK, FAILED) and record.get("train_seconds") is not None:
            self.trained += 1
            self.train_seconds += float(record.get("train_seconds") or 0)
            self.eval_seconds += float(record.get("eval_seconds") or 0)
            # a rung that continued an earlier one trained only the steps after it
            self.steps += (int(record.get("steps", self.config.train_steps))
                           - int(record.get("continued_from") or 0))

    def ready(self) -> bool:
        if self.enabled and self.trained >= self.AFTER:
            self.enabled = False
            return True
        return False

    def text(self) -> str:
        c = self.config
        steps, validations = expected_work(c)
        per_step = self.train_seconds / max(self.steps, 1)
        per = max(per_step * steps + self.eval_seconds / self.trained * validations, 1e-3)
        parallel = max(1, c.workers)
        share = self.to_train / self.offspring  # of the candidates, those under the cost budget
        total = c.pop * c.generations * share * per / parallel
        hour = max(1, int(3600 * parallel / (per * c.pop * max(share, 1e-9))))
        skipped, seen = self.offspring - self.to_train, self.offspring
        rungs = f", {steps:.0f} steps on average over the rungs" if c.fidelity == "sh" else ""
        return (f"estimate after {self.trained} trained candidates: about {clock(total)} for all "
                f"{c.generations} generations on this machine ({per:.0f} s per trained candidate{rungs}, "
                f"{skipped} of {seen} in generation 1 over the budget); about {hour} "
                f"generation{'s' if hour > 1 else ''} fit in an hour (--generations {hour}), or give "
                f"{_fewer_steps(c)} or a smaller --pop")


def _fewer_steps(config: SearchConfig) -> str:
    return "lower --rungs" if config.fidelity == "sh" else "fewer --train-steps"


def estimate_text(config: SearchConfig, h: dict, per_gen: float) -> str:
    """What the whole search will take on this machine, from a generation's wall time `per_gen`."""
    trained = max(1, h["trained"])
    left = config.generations - h["generation"]
    if config.max_evals is not None:
        left = min(left, max(0, math.ceil((config.max_evals - h["trained"]) / trained)))
    total = h["elapsed"] + left * per_gen
    fit = max(1, int(3600 // max(per_gen, 1e-9)))
    return (f"estimate: {h['generation'] + left} generations ≈ {clock(total)} on this machine "
            f"({per_gen / trained:.1f} s per trained candidate, {per_gen:.0f} s per generation); "
            f"about {fit} generation{'s' if fit > 1 else ''} fit in an hour (--generations {fit}), "
            f"or give {_fewer_steps(config)} or a smaller --pop")


def write_reports(out: Path, config: SearchConfig, records: list[dict], front: list[dict],
                  history: list[dict]) -> None:
    """pareto.png and history.png (pareto.json is rewritten every generation)."""
    from falsr_cli.search.report import plot_history, plot_pareto

    published = published_figures() if config.val.lower() == "set5" else None
    plot_pareto(out / "pareto.png", records, front, config, published)
    plot_history(out / "history.png", history)
