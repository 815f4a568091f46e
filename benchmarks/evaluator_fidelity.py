"""Evaluator fidelity: does the search's score rank networks as full training with the shipped recipe does?

The reference is exactly what a user gets: `falsr train` with its defaults and the settings of `make
pretrained-*` (T91 + BSDS200-train, 12,000 steps, patch 64, seed 0, validation every 1000 steps, the best
checkpoint on the held-out BSDS200-val), then Set5 and Set14 for the record. K architectures: FALSR-B-res,
FALSR-C-res, t291-NAS-B's network and random members of the paper's space (image-level residual, as the
search makes them), at least 10 of them in 20G–100G mult-adds and the rest spread over 3G–250G; a second
seed of the first few gives the seed-noise ceiling.

Stages (each resumable: rows stream to OUT/*.jsonl, a killed run continues where it stopped; a killed
`falsr train` resumes from its checkpoint):
  plan       choose the architectures once and write OUT/plan.json (kept: later changes to the space do not
             change the study)
  reference  full trainings, in plan order, one `falsr train` process at a time (2 threads beat two
             1-thread processes here: 6.0 vs 2×2.8 steps/s for FALSR-B-res)
  brief      the search's evaluators on the same architectures (see --budgets)
  report     τ, ρ and precision@4 of every evaluator against the reference, CPU seconds per candidate

    .venv/bin/python benchmarks/evaluator_fidelity.py plan|reference|brief|report [--out runs/fidelity]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from falsr_cli.atomic import append_jsonl, read_jsonl, write_json  # noqa: E402
from falsr_cli.machine import cpu_flags, cpu_generation, cpu_model  # noqa: E402
from falsr_cli.search.config import SEARCH_INITS  # noqa: E402

# The shipped recipe (Makefile, pretrained-%): what every t291-* model was trained with.
RECIPE = ["--data", "T91,BSDS200-train", "--steps", "12000", "--patch", "64", "--val-every", "1000",
          "--ckpt-every", "500"]
NAS_B = ("x2-f32-res:conv_f64_k3_b2_noskip,group4_f48_k3_b2_noskip,group4_f48_k3_b1_skip,"
         "group4_f64_k1_b1_noskip,invbot_f16_k1_b1_noskip,conv_f16_k1_b4_noskip,group4_f64_k3_b2_noskip:"
         "1011010001111101001111010111")
FALSR = [sys.executable, "-m", "falsr_cli"]


def cpu_name() -> str:
    return f"{cpu_model()} ({cpu_generation()})"


def make_plan(seed: int) -> list[dict]:
    """FALSR-B-res, FALSR-C-res, NAS-B, 8 random members log-spread over 20G–100G, 2 over 3G–20G, 2 over
    100G–250G, FALSR-A-res; then second seeds of six band members (an early stop leaves the band done)."""
    import numpy as np

    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.space.architecture import Architecture, load_architecture

    rng = np.random.default_rng(seed)
    pool = [Architecture.random(rng, n=7, residual=True) for _ in range(6000)]
    g = np.array([mult_adds(a) / 1e9 for a in pool])

    def spread(lo: float, hi: float, k: int, tag: str) -> list[tuple[str, Architecture]]:
        edges = np.geomspace(lo, hi, k + 1)
        out = []
        for b in range(k):
            inside = np.flatnonzero((g >= edges[b]) & (g < edges[b + 1]))
            out.append((f"{tag}-{b}", pool[int(inside[rng.integers(len(inside))])]))
        return out

    band = [("FALSR-B-res", load_architecture("FALSR-B-res")),
            ("FALSR-C-res", load_architecture("FALSR-C-res")),
            ("NAS-B", load_architecture(NAS_B)), *spread(20, 100, 8, "band")]
    rest = [*spread(3, 20, 2, "small"), *spread(100, 250, 2, "large"),
            ("FALSR-A-res", load_architecture("FALSR-A-res"))]
    rows = [{"name": n, "text": a.to_text(), "hash": a.hash(), "mult_adds": mult_adds(a), "params": params(a),
             "seed": 0} for n, a in band + rest]
    # Second seeds: the band's members spread over its range (every other one by mult-adds).
    by_cost = sorted(rows[: len(band)], key=lambda r: r["mult_adds"])
    rows += [{**r, "seed": 1} for r in by_cost[::2][:6]]
    return rows


def job_name(row: dict) -> str:
    return f"{row['name']}-s{row['seed']}"


def reference(out: Path, plan: list[dict], runs: Path, only: str | None) -> None:
    journal = out / "reference.jsonl"
    done = {(r["hash"], r["seed"]) for r in read_jsonl(journal)}
    for row in plan:
        if (row["hash"], row["seed"]) in done or (only and row["name"] not in only.split(",")):
            continue
        run = runs / job_name(row)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        resumed = (run / "config.json").is_file()
        print(f"{time.strftime('%H:%M:%S')} train {job_name(row)} {row['mult_adds'] / 1e9:.1f}G "
              f"{'(resuming)' if resumed else ''}", flush=True)
        subprocess.run([*FALSR, "train", "--arch", row["text"], *RECIPE, *row.get("train_args", []),
                        "--seed", str(row["seed"]), "--out", str(run), "-q", "--json"],
                       check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        scores = {}
        for ds in ("Set5", "Set14"):
            r = subprocess.run([*FALSR, "evaluate", "--dataset", ds, "--model", str(run), "--engine", "tf",
                                "--json", "-"], check=True, capture_output=True, text=True)
            s = json.loads(r.stdout)
            scores[ds] = {"psnr": s["psnr"], "ssim": s["ssim"]}
        metrics = read_jsonl(run / "metrics.jsonl")
        curve = [{"step": m["step"], "psnr": m["val_psnr"], "ssim": m["val_ssim"]} for m in metrics
                 if m.get("val_psnr") is not None]
        losses = [{"step": m["step"], "loss": m["loss"]} for m in metrics if m.get("loss") is not None]
        best = max(curve, key=lambda c: c["psnr"])
        append_jsonl(journal, {
            **row, "run": str(run), "val_best": best["psnr"], "val_best_step": best["step"],
            "val_final": curve[-1]["psnr"], "curve": curve, "losses": losses, "scores": scores,
            "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "wall_seconds": time.perf_counter() - t0, "resumed": resumed, "cpu": cpu_name(),
            "cpu_flags": cpu_flags()})
        print(f"   val {best['psnr']:.4f} Set5 {scores['Set5']['psnr']:.4f} "
              f"Set14 {scores['Set14']['psnr']:.4f} in {time.perf_counter() - t0:.0f} s", flush=True)


# Brief budgets (steps, each a run of its own with a cosine over it); the longest also validates on the way.
BRIEF = (300, 1000, 3000)
CURVE_AT = (300, 1000, 1500, 2000)


def brief(out: Path, plan: list[dict], init: str = "he-zero", budgets: tuple[int, ...] = BRIEF,
          warmup: int | None = None) -> None:
    """The search's brief recipe (`train_and_validate`, as `falsr search` calls it) at each budget, with
    `falsr search`'s --init and --warmup."""
    from falsr_cli.search.config import SearchConfig
    from falsr_cli.search.evaluator import evaluation_seed
    from falsr_cli.train.brief import train_and_validate

    cfg = SearchConfig()
    journal = out / "brief.jsonl"
    done = {(r["hash"], r["steps"], r.get("init", "he-zero"), r.get("warmup")) for r in read_jsonl(journal)}
    for steps in budgets:  # cheap budgets first: a partial study already answers for them
        for row in plan:
            if row["seed"] != 0 or (row["hash"], steps, init, warmup) in done:
                continue
            t0 = time.process_time()
            r = train_and_validate(row["text"], data=cfg.data, val=cfg.val, steps=steps,
                                   seed=evaluation_seed(cfg.seed, row["hash"]), batch=cfg.batch,
                                   patch=cfg.patch, lr=cfg.lr, schedule=cfg.schedule, init=init,
                                   warmup=warmup,
                                   val_at=CURVE_AT if steps == max(BRIEF) else ())
            append_jsonl(journal, {
                "name": row["name"], "hash": row["hash"], "steps": steps, "init": init, "warmup": warmup,
                "psnr": r["psnr"],
                "ssim": r["ssim"], "loss": r["loss"], "loss_sum": r["loss_sum"], "curve": r.get("curve"),
                "cpu_seconds": time.process_time() - t0,
                "wall_seconds": r["train_seconds"] + r["eval_seconds"], "cpu": cpu_name()})
            print(f"{time.strftime('%H:%M:%S')} {steps:5d} steps {recipe_label(init, warmup):20s} "
                  f"{row['name']:12s} {r['psnr']:.4f} dB", flush=True)


def recipe_label(init: str, warmup: int | None) -> str:
    """How a brief row's recipe differs from the search's default ("" when it does not)."""
    parts = ([] if init == "he-zero" else [f"{init.upper()} init"]) + ([] if warmup is None else
                                                                        [f"warm-up {warmup}"])
    return ", ".join(parts)


def extrapolate(curve: list[list[float]], target: int) -> float:
    """PSNR at `target` steps from a power law p(t) = a − b·t^(−c) fitted to a run's validation points."""
    import numpy as np

    t = np.array([c[0] for c in curve], float)
    p = np.array([c[1] for c in curve], float)
    best = (np.inf, p[-1])
    for c in np.linspace(0.05, 2.0, 40):  # for a fixed c the fit is linear in (a, b)
        x = t ** -c
        A = np.stack([np.ones_like(x), -x], 1)
        (a, b), *_ = np.linalg.lstsq(A, p, rcond=None)
        err = float(np.sum((A @ [a, b] - p) ** 2))
        if err < best[0]:
            best = (err, a - b * target ** -c)
    return float(best[1])


def successive_halving(names: list[str], rungs: dict[int, dict[str, float]], costs: dict[str, tuple],
                       promote: float = 1 / 3) -> tuple[dict[str, float], dict[str, int]]:
    """Scores on the top rung's scale, and the steps each candidate was trained for, of successive halving:
    all at the lowest rung, the best `promote` by Pareto rank over (PSNR, mult-adds, params) to the next.
    A candidate stopped at rung r is scored PSNR_r + the mean gain to the top rung of the promoted ones."""
    import numpy as np
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    steps = sorted(rungs)
    alive, reached = list(names), {n: steps[0] for n in names}
    for lo, hi in zip(steps, steps[1:], strict=False):
        F = np.array([[-rungs[lo][n], *costs[n]] for n in alive])
        fronts = NonDominatedSorting().do(F)
        order = [alive[i] for front in fronts for i in sorted(front, key=lambda i: -rungs[lo][alive[i]])]
        alive = order[:max(1, round(len(alive) * promote))]
        for n in alive:
            reached[n] = hi
    top = steps[-1]
    gain = {r: float(np.mean([rungs[top][n] - rungs[r][n] for n in names if reached[n] == top]))
            for r in steps}
    return {n: rungs[reached[n]][n] + gain[reached[n]] for n in names}, reached


def size_corrected(brief: dict[str, float], ref: dict[str, float], macs: dict[str, float],
                   weighted: bool = False) -> dict[str, float]:
    """Leave-one-out: each candidate's brief PSNR plus the gain to full training that a line in
    log(mult-adds), fitted on the *other* references, predicts (bigger networks gain more from a longer
    run); `weighted` also fits the brief PSNR's weight (full ≈ a + b·log(mult-adds) + c·brief: the size
    trend of full training plus the brief run's own residual, scaled). What a search would use is the fit
    on all of them; LOO keeps the τ honest."""
    import numpy as np

    names = [n for n in brief if n in ref]
    out = {}
    for held in names:
        rest = [n for n in names if n != held]
        x = np.log([macs[n] for n in rest])
        b = np.array([brief[n] for n in rest])
        y = np.array([ref[n] for n in rest])
        if weighted:
            coef, *_ = np.linalg.lstsq(np.stack([np.ones_like(x), x, b], 1), y, rcond=None)
            out[held] = float(coef @ [1.0, np.log(macs[held]), brief[held]])
        else:
            slope, intercept = np.polyfit(x, y - b, 1)
            out[held] = brief[held] + intercept + slope * float(np.log(macs[held]))
    return out


# The band users search most, and what counts as equal cost: a search under a budget compares networks
# near the budget, where size alone no longer decides.
BAND = (20e9, 100e9)
EQUAL_COST = 1.5


def _or_dash(value: float | None, width: int) -> str:
    """A τ to 3 decimals, or – where it is undefined (a score with nothing beyond size)."""
    return f"{'–' if value is None else f'{value:.3f}':>{width}}"


def report(out: Path, plan: list[dict], markdown: bool = False) -> None:
    """Every evaluator against the reference: τ, ρ, precision@4, CPU seconds per candidate (`markdown`:
    also as the README's table)."""
    import numpy as np

    from falsr_cli.search.ranking import kendall_tau, pair_accuracy, spearman_rho

    refs = {(r["hash"], r["seed"]): r for r in read_jsonl(out / "reference.jsonl")}
    names = [r["name"] for r in plan if r["seed"] == 0 and (r["hash"], 0) in refs]
    by_name = {r["name"]: r for r in plan if r["seed"] == 0}
    ref = {n: refs[(by_name[n]["hash"], 0)]["val_best"] for n in names}
    whole = [r for r in refs.values() if not r["resumed"]]
    full_cpu = float(np.median([r["cpu_seconds"] for r in whole] or [np.nan]))
    # A brief run's cost is a share of the same network's full training on the same machine (the CPUs of
    # a study differ in speed): the brief runs' CPU seconds over their full trainings', summed over the
    # networks whose both ran on one CPU; a resumed full training's seconds are not the whole training.
    full_of = {r["hash"]: r for r in whole if r["seed"] == 0}
    full_on = {c: float(np.median([r["cpu_seconds"] for r in whole if r["cpu"] == c]))
               for c in {r["cpu"] for r in whole}}

    def share(runs: list[dict]) -> float | None:
        """All of `runs` (one or more per network) against one full training of each of their networks."""
        paired = [r for r in runs if r["hash"] in full_of and full_of[r["hash"]]["cpu"] == r.get("cpu")]
        nets = {r["hash"] for r in paired}
        return (sum(r["cpu_seconds"] for r in paired) / sum(full_of[h]["cpu_seconds"] for h in nets)
                if paired else None)

    # by (steps, init, warmup): the search's recipe as it is, and with another --init or --warmup
    briefs: dict[tuple[int, str, int | None], dict[str, dict]] = {}
    for r in read_jsonl(out / "brief.jsonl"):
        briefs.setdefault((r["steps"], r.get("init", "he-zero"), r.get("warmup")), {})[r["name"]] = r

    def label_of(steps: int, init: str, warmup: int | None) -> str:
        recipe = recipe_label(init, warmup)
        return f"brief {steps} steps" + (f" ({recipe})" if recipe else "")

    def by_recipe(key: tuple) -> tuple:  # the search's own recipe first, then by init, warm-up, steps
        steps, init, warmup = key
        return (recipe_label(init, warmup) != "", init, warmup or 0, steps)
    rows = []

    def add(label: str, score: dict[str, float], cpu: float, frac: float | None) -> None:
        common = [n for n in names if n in score]
        if len(common) < 4:
            return
        x, y = [score[n] for n in common], [ref[n] for n in common]
        best_ref = set(sorted(common, key=lambda n: -ref[n])[:4])
        best_eval = set(sorted(common, key=lambda n: -score[n])[:4])
        band = [n for n in common if BAND[0] <= by_name[n]["mult_adds"] <= BAND[1]]
        pairs, n_pairs = pair_accuracy(x, y, [by_name[n]["mult_adds"] for n in common], EQUAL_COST)
        # What it sees beyond size: each score's residual from its own line in log mult-adds, ranked
        # against full training's (0 for a score that is a function of size alone)
        logm = np.log([by_name[n]["mult_adds"] for n in common])
        rx, ry = (np.asarray(v) - np.polyval(np.polyfit(logm, v, 1), logm) for v in (x, y))
        beyond = kendall_tau(list(np.round(rx, 9)), list(ry))
        beyond = None if np.isnan(beyond) else beyond  # undefined: a function of size alone
        rows.append({"evaluator": label, "k": len(common), "kendall_tau": kendall_tau(x, y),
                     "beyond_size_kendall_tau": beyond,
                     "spearman_rho": spearman_rho(x, y), "precision_at_4": len(best_ref & best_eval) / 4,
                     "band_k": len(band),
                     "band_kendall_tau": kendall_tau([score[n] for n in band], [ref[n] for n in band]),
                     "equal_cost_pair_accuracy": pairs, "equal_cost_pairs": n_pairs,
                     "cpu_seconds_per_candidate": cpu,
                     "fraction_of_full_training": frac})

    # in logs: the same ranking, and nothing left beyond size
    add("mult-adds alone", {n: float(np.log(by_name[n]["mult_adds"])) for n in names}, 0.0, 0.0)
    add("params alone", {n: float(np.log(by_name[n]["params"])) for n in names}, 0.0, 0.0)
    for (steps, init, warmup), runs in sorted(briefs.items(), key=lambda kv: by_recipe(kv[0])):
        cpu = float(np.mean([r["cpu_seconds"] for r in runs.values()]))
        frac = share(list(runs.values()))
        label = label_of(steps, init, warmup)
        add(f"{label}: val PSNR", {n: r["psnr"] for n, r in runs.items()}, cpu, frac)
        add(f"{label}: −sum of losses", {n: -r["loss_sum"] for n, r in runs.items()}, cpu, frac)
        add(f"{label}: −late loss", {n: -r["loss"] for n, r in runs.items()}, cpu, frac)
        if len([n for n in runs if n in ref]) >= 5:
            macs = {n: by_name[n]["mult_adds"] for n in names}
            psnr = {n: r["psnr"] for n, r in runs.items()}
            add(f"{label} + gain fitted on log mult-adds (leave-one-out)",
                size_corrected(psnr, ref, macs), cpu, frac)
            add(f"{label}, weighted, + log mult-adds (LOO fit)",
                size_corrected(psnr, ref, macs, weighted=True), cpu, frac)
        if all(r.get("curve") for r in runs.values()):
            add(f"{label}: curve extrapolated to 12000",
                {n: extrapolate(r["curve"], 12000) for n, r in runs.items()}, cpu, frac)
    # What `falsr search` scores now: a -res candidate whose brief run ended within the stall margin of
    # bicubic is trained again with LSUV (same seed, so the study's LSUV row is that second run)
    bicubic = None
    for (steps, init, warmup), runs in sorted(briefs.items(), key=lambda kv: by_recipe(kv[0])):
        again = briefs.get((steps, "lsuv", warmup))
        if init == "lsuv" or not again or not all(n in again for n in runs):
            continue
        if bicubic is None:
            from falsr_cli.train.brief import bicubic_of
            from falsr_cli.train.loop import STALL_MARGIN_DB

            bicubic = bicubic_of("BSDS200-val", 2)
        chosen = {n: again[n] if r["psnr"] < bicubic + STALL_MARGIN_DB else r for n, r in runs.items()}
        spent = [*runs.values(), *(again[n] for n in runs if chosen[n] is again[n])]
        add(f"{label_of(steps, init, warmup)}, collapsed → LSUV ({len(spent) - len(runs)} of {len(runs)})",
            {n: r["psnr"] for n, r in chosen.items()}, sum(r["cpu_seconds"] for r in spent) / len(runs),
            share(spent))
    # The first steps of the full recipe itself (its cosine barely started): each reference's validations
    curves = {n: {c["step"]: c["psnr"] for c in refs[(by_name[n]["hash"], 0)]["curve"]} for n in names}
    macs = {n: by_name[n]["mult_adds"] for n in names}
    for steps in (1000, 2000, 3000):
        score = {n: curves[n][steps] for n in names if steps in curves[n]}
        label = f"full recipe, first {steps} steps" + (" (falsr search's default)" if steps == 1000 else "")
        add(label, score, full_cpu * steps / 12000, steps / 12000)
        if len(score) >= 5:
            add(f"{label}, weighted, + log mult-adds (LOO fit)",
                size_corrected(score, ref, macs, weighted=True), full_cpu * steps / 12000, steps / 12000)
    costs = {n: (by_name[n]["mult_adds"], by_name[n]["params"]) for n in names}
    # Successive halving on the full recipe's own schedule: a rung's run is the start of the next rung's,
    # so a promoted candidate's training continues instead of starting again; it costs its top rung
    for ladder in ((1000, 2000), (1000, 3000), (1000, 2000, 3000)):
        if not all(s in curves[n] for s in ladder for n in names):
            continue
        score, reached = successive_halving(names, {s: {n: curves[n][s] for n in names} for s in ladder},
                                            costs)
        frac = float(np.mean([reached[n] for n in names])) / 12000
        add(f"full recipe, successive halving {'→'.join(map(str, ladder))} (continued), top third", score,
            full_cpu * frac, frac)
    for init, warmup in sorted({k[1:] for k in briefs}, key=lambda k: by_recipe((0, *k))):
        recipe = recipe_label(init, warmup)
        for ladder in (BRIEF, *itertools.combinations(BRIEF, 2)):  # every ladder of the budgets run
            runs = [briefs.get((s, init, warmup), {}) for s in ladder]
            if not all(n in r for r in runs for n in names):
                continue
            rungs = {s: {n: r[n]["psnr"] for n in names} for s, r in zip(ladder, runs, strict=True)}
            score, reached = successive_halving(names, rungs, costs)
            spent = [r[n] for n in names for s, r in zip(ladder, runs, strict=True) if s <= reached[n]]
            add(f"successive halving {'→'.join(map(str, ladder))}" + (f" ({recipe})" if recipe else "")
                + ", top third by Pareto rank", score, sum(r["cpu_seconds"] for r in spent) / len(names),
                share(spent))
    seeds = [(refs[(r["hash"], 0)]["val_best"], refs[(r["hash"], 1)]["val_best"]) for r in plan
             if r["seed"] == 1 and (r["hash"], 0) in refs and (r["hash"], 1) in refs]
    noise = None
    if len(seeds) >= 3:
        noise = {"pairs": len(seeds), "kendall_tau": kendall_tau(*map(list, zip(*seeds, strict=True))),
                 "mean_abs_diff_db": float(np.mean([abs(a - b) for a, b in seeds]))}
    summary = {"reference": "falsr train defaults, 12000 steps, best checkpoint on BSDS200-val (seed 0)",
               "k": len(names), "full_training_cpu_seconds": full_cpu, "seed_noise": noise,
               "full_training_cpu_seconds_by_cpu": full_on,
               "evaluators": rows, "cpu": cpu_name(), "cpu_flags": cpu_flags()}
    write_json(out / "evaluators.json", summary)
    print(f"K = {len(names)} references (BSDS200-val, 12000 steps); a full training, median CPU s: "
          + ", ".join(f"{v:.0f} on {c} ({sum(r['cpu'] == c for r in whole)} runs)"
                      for c, v in full_on.items()))
    if noise:
        print(f"seed noise: τ {noise['kendall_tau']:.3f} over {noise['pairs']} pairs, "
              f"mean |Δ| {noise['mean_abs_diff_db']:.3f} dB")
    print(f"τ band: within {BAND[0] / 1e9:.0f}G–{BAND[1] / 1e9:.0f}G; pairs: share of the pairs within "
          f"{EQUAL_COST}× mult-adds of each other that the evaluator orders as full training does")
    print("beyond size: τ of each score's residual from its own line in log mult-adds against full "
          "training's")
    w = max(len(r["evaluator"]) for r in rows) if rows else 9
    print(f"{'evaluator':{w}s} {'K':>3} {'tau':>6} {'rho':>6} {'p@4':>5} {'τ band':>7} {'pairs':>10} "
          f"{'beyond':>6} {'CPU s':>6} {'of full':>7}")
    for r in rows:
        cpu = r["cpu_seconds_per_candidate"]
        frac = r["fraction_of_full_training"]
        pairs = f"{r['equal_cost_pair_accuracy']:.2f} ({r['equal_cost_pairs']})"
        print(f"{r['evaluator']:{w}s} {r['k']:3d} {r['kendall_tau']:6.3f} {r['spearman_rho']:6.3f} "
              f"{r['precision_at_4']:5.2f} {r['band_kendall_tau']:7.3f} {pairs:>10} "
              f"{_or_dash(r['beyond_size_kendall_tau'], 6)} {cpu:6.0f} "
              f"{'' if frac is None else f'{frac:7.3f}'}")
    if markdown:
        print("\n| evaluator | K | τ | ρ | precision@4 | τ in 20G–100G | equal-cost pairs | τ beyond size "
              "| CPU s / candidate | of a full training |\n|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            frac = r["fraction_of_full_training"]
            print(f"| {r['evaluator']} | {r['k']} | {r['kendall_tau']:.3f} | {r['spearman_rho']:.3f} | "
                  f"{r['precision_at_4']:.2f} | {r['band_kendall_tau']:.3f} | "
                  f"{r['equal_cost_pair_accuracy']:.2f} of {r['equal_cost_pairs']} | "
                  f"{_or_dash(r['beyond_size_kendall_tau'], 0)} | "
                  f"{r['cpu_seconds_per_candidate']:.0f} | {'–' if frac is None else f'{frac:.3f}'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["plan", "reference", "brief", "report"])
    ap.add_argument("--out", default="runs/fidelity")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma-separated plan names (reference stage)")
    ap.add_argument("--markdown", action="store_true", help="report: also print the table as Markdown")
    ap.add_argument("--init", default="he-zero", choices=SEARCH_INITS, help="brief: initial weights")
    ap.add_argument("--budgets", default=",".join(map(str, BRIEF)), help="brief: steps, comma-separated")
    ap.add_argument("--warmup", type=int, default=None, help="brief: warm-up steps [a tenth, at most 100]")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.json"
    if args.stage == "plan" or not plan_file.is_file():
        if plan_file.is_file():
            sys.exit(f"{plan_file} exists: the plan is chosen once")
        write_json(plan_file, {"seed": args.seed, "cpu": cpu_name(), "architectures": make_plan(args.seed)})
        if args.stage == "plan":
            for r in json.loads(plan_file.read_text())["architectures"]:
                print(f"{job_name(r):16s} {r['mult_adds'] / 1e9:7.1f}G {r['params'] / 1e3:7.1f}k "
                      f"{r['text']}")
            return
    plan = json.loads(plan_file.read_text())["architectures"]
    if args.stage == "reference":
        reference(out, plan, out / "runs", args.only)
    elif args.stage == "brief":
        brief(out, plan, args.init, tuple(int(b) for b in args.budgets.split(",")), args.warmup)
    else:
        report(out, plan, args.markdown)


if __name__ == "__main__":
    main()
