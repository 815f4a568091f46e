"""Successive halving inside a generation (--fidelity sh): promotion, the corrected score, resume, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from search_runs import killed_run, reference_run

from falsr_cli.atomic import read_jsonl
from falsr_cli.cli import main
from falsr_cli.errors import FalsrError
from falsr_cli.search.config import SearchConfig, expected_work, resolve_config
from falsr_cli.search.evaluator import proxy_evaluate
from falsr_cli.search.fidelity import final_result, n_promoted, pareto_order, promoted, rung_gains
from falsr_cli.search.runner import EarlyEstimate, run_search

RUNGS = [300, 1000, 3000]
OPTIONS = {"evaluator": "proxy", "workers": 0, "n": 3, "pop": 8, "generations": 4, "flops_max": "8G",
           "p_exploit": 0.0, "seed": 3, "fidelity": "sh", "rungs": RUNGS, "promote": 0.34}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted successive-halving search."""
    return reference_run(tmp_path_factory.mktemp("sh") / "reference", OPTIONS, 4)


def _candidates(run: Path) -> list[dict]:
    return [r for r in read_jsonl(run / "evaluations.jsonl") if r.get("kind") != "rung"]


def _rungs(run: Path) -> list[dict]:
    return [r for r in read_jsonl(run / "evaluations.jsonl") if r.get("kind") == "rung"]


def _essence(run: Path) -> tuple[list[tuple], set[tuple]]:
    """The candidates in journal order (what NSGA-II was told) and the set of rung trainings."""
    finals = [(r["hash"], r["generation"], r["status"], r.get("psnr"), r.get("rung"), r.get("rung_psnr"))
              for r in _candidates(run)]
    return finals, {(r["hash"], r["generation"], r["rung"], r["steps"], r["psnr"]) for r in _rungs(run)}


def _front(run: Path) -> list[tuple]:
    doc = json.loads((run / "pareto.json").read_text())
    return [(m["hash"], m["psnr"], m["rung"], m["steps"]) for m in doc["front"]]


# ---- promotion and the corrected score --------------------------------------------------------------


def test_promotion_takes_the_pareto_best_share_ties_by_crowding_then_order():
    # (−PSNR, mult-adds, params): rows 0, 1, 3 are non-dominated; 2 is dominated by 1; 4 by 0 and 3.
    F = np.array([[-31.0, 10.0, 5.0], [-32.0, 20.0, 6.0], [-31.5, 25.0, 7.0], [-30.0, 5.0, 3.0],
                  [-29.0, 12.0, 6.0]])
    order = pareto_order(F, "chu-yu")
    assert set(order[:3]) == {0, 1, 3} and order[3:] == [2, 4]
    # Of the first front, the extremes (rows 1 and 3) have infinite crowding: they go first, in order.
    assert order[:2] == [1, 3] and promoted(F, 0.4, "chu-yu") == [1, 3]
    assert pareto_order(F, "pymoo")[:3] == [1, 3, 0]
    # Every candidate equal: the choice is their order, never chance.
    assert promoted(np.zeros((5, 3)), 0.4, "chu-yu") == [0, 1]
    assert [n_promoted(n, 0.34) for n in (1, 2, 3, 5, 8, 64)] == [1, 1, 1, 2, 3, 22]
    assert n_promoted(4, 1.0) == 4


def test_the_score_of_a_stopped_candidate_is_put_on_the_top_rungs_scale():
    rec = {"status": "ok", "generation": 1, "kind": "rung"}
    records = [{**rec, "hash": "a", "rung": 0, "steps": 300, "psnr": 30.0},
               {**rec, "hash": "a", "rung": 1, "steps": 1000, "psnr": 30.5},
               {**rec, "hash": "a", "rung": 2, "steps": 3000, "psnr": 31.0},
               {**rec, "hash": "b", "rung": 0, "steps": 300, "psnr": 30.2},
               {**rec, "hash": "b", "rung": 1, "steps": 1000, "psnr": 30.4},
               {**rec, "hash": "b", "rung": 2, "steps": 3000, "psnr": 30.6},
               {**rec, "hash": "c", "rung": 0, "steps": 300, "psnr": 29.0},
               {**rec, "hash": "c", "rung": 1, "steps": 1000, "psnr": 29.9},  # never reached the top
               {**rec, "hash": "d", "rung": 0, "steps": 300, "status": "failed", "reason": "NaN"}]
    gains = rung_gains(records, RUNGS)
    assert gains == [(pytest.approx(0.7), 2), (pytest.approx(0.35), 2), (0.0, 2)]
    c = final_result(records[6:8], gains)
    assert c["rung"] == 1 and c["steps"] == 1000 and c["rung_psnr"] == [29.0, 29.9]
    assert c["psnr"] == pytest.approx(29.9 + 0.35) and c["psnr_gain"] == pytest.approx(0.35)
    assert c["gain_pairs"] == 2
    top = final_result(records[0:3], gains)
    assert top["psnr"] == 31.0 and top["psnr_gain"] == 0.0 and "gain_pairs" not in top
    failed = final_result(records[8:], gains)
    assert failed["status"] == "failed" and "psnr" not in failed
    assert failed["reason"] == "rung 0 (300 steps): NaN"
    # No candidate at both rungs yet: nothing to add.
    assert rung_gains(records[6:8], RUNGS)[1] == (0.0, 0)


def test_the_proxy_rises_with_the_steps_and_is_unchanged_at_the_default():
    from falsr_cli.space.architecture import PRESETS

    arch = PRESETS["FALSR-C"]
    curve = [proxy_evaluate(arch, seed=1, steps=s)["psnr"] for s in (100, 300, 1000, 3000, 10000)]
    assert curve == sorted(curve) and curve[-1] - curve[0] < 3
    assert proxy_evaluate(arch, seed=1, steps=1000)["psnr"] == proxy_evaluate(arch, seed=1)["psnr"]


def test_a_search_promotes_by_pareto_rank_and_journals_every_rung(reference):
    from falsr_cli.search.problem import FalsrProblem

    cfg = resolve_config({**OPTIONS, "out": str(reference)})
    problem = FalsrProblem(cfg)
    finals, rungs = _candidates(reference), _rungs(reference)
    trained = [r for r in finals if r["status"] in ("ok", "failed")]
    assert trained and all(r["steps"] == RUNGS[r["rung"]] for r in trained)
    for g in range(1, 5):
        gen = [r for r in trained if r["generation"] == g]
        for rung in range(len(RUNGS) - 1):
            at = [r for r in gen if r["rung"] >= rung]
            up = sorted(r["hash"] for r in gen if r["rung"] > rung)
            # Who went on: the Pareto-best share of those at this rung, by their PSNR at this rung.
            F = np.array([problem.objectives({**r, "psnr": r["rung_psnr"][rung]})[0] for r in at])
            assert up == sorted(at[i]["hash"] for i in promoted(F, 0.34, cfg.crowding))
            assert len(up) == n_promoted(len(at), 0.34)
        # Every rung training is journalled once, before its candidate's record.
        for r in gen:
            mine = [x for x in rungs if x["hash"] == r["hash"]]
            assert [x["rung"] for x in mine] == list(range(r["rung"] + 1))
            assert [x["psnr"] for x in mine] == r["rung_psnr"] and all(x["seq"] < r["seq"] for x in mine)
            # The corrected score: the mean gain, to the top, of this and earlier generations' candidates.
            if r["rung"] < len(RUNGS) - 1:
                gain, pairs = rung_gains([x for x in rungs if x["generation"] <= g], RUNGS)[r["rung"]]
                assert r["psnr"] == pytest.approx(r["rung_psnr"][-1] + gain) and r["gain_pairs"] == pairs
    doc = json.loads((reference / "pareto.json").read_text())
    assert doc["fidelity"]["rungs"] == RUNGS and len(doc["fidelity"]["generations"]) == 4
    assert all(m["steps"] == RUNGS[m["rung"]] for m in doc["front"])


def test_search_show_prints_the_rungs_and_the_members_rung(reference):
    result = CliRunner().invoke(main, ["search", "show", str(reference)])
    assert result.exit_code == 0, result.output
    assert "successive halving: rungs of 300, 1000, 3000 steps" in result.output
    assert "rung (steps)" in result.output and "3000 steps" in result.output
    doc = json.loads((reference / "pareto.json").read_text())
    first = doc["fidelity"]["generations"][0]["trained"]
    assert first[0] >= first[1] >= first[2] >= 1


# ---- resume -----------------------------------------------------------------------------------------


class _Killed(BaseException):
    """Stands for SIGKILL in-process: not an Exception, so no candidate's failure catches it."""


@pytest.mark.parametrize("kill_at", [4, 7, 13])
def test_a_search_stopped_mid_rung_resumes_to_the_uninterrupted_result(reference, tmp_path, kill_at):
    calls = []

    def dies(arch, **kwargs):
        calls.append(arch)
        if len(calls) == kill_at:
            raise _Killed
        return proxy_evaluate(arch, **kwargs)

    out = tmp_path / "run"
    with pytest.raises(_Killed):
        run_search(resolve_config({**OPTIONS, "out": str(out)}), train_fn=dies, quiet=True)
    before = read_jsonl(out / "evaluations.jsonl")
    assert any(r.get("kind") == "rung" for r in before)
    calls.clear()

    def counted(arch, **kwargs):
        calls.append((arch.hash(), kwargs["steps"]))
        return proxy_evaluate(arch, **kwargs)

    run_search(resolve_config({**OPTIONS, "out": str(out)}), train_fn=counted, quiet=True)
    after = read_jsonl(out / "evaluations.jsonl")
    assert after[: len(before)] == before
    done = {(r["hash"], r["steps"]) for r in before if r.get("kind") == "rung"}
    assert not done & set(calls)  # no finished rung training repeated
    assert _essence(out) == _essence(reference)
    assert _front(out) == _front(reference)


def test_sigkill_mid_rung_then_the_same_command_gives_the_uninterrupted_front(reference, tmp_path):
    toml = tmp_path / "search.toml"
    toml.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in OPTIONS.items())
                    + "\n[evaluator_options]\nsleep = 0.2\n")
    out = tmp_path / "killed"
    args = ["search", "--config", str(toml), "--out", str(out), "-q"]
    journal = out / "evaluations.jsonl"

    def second_rung_of_generation_2(records: list[dict]) -> bool:
        # Its last rungs, and its candidates' own records, are still to come.
        return any(r.get("kind") == "rung" and r["generation"] == 2 and r["rung"] == 1 for r in records)

    before = killed_run(args, journal, second_rung_of_generation_2)
    assert not any(r["generation"] == 2 and r.get("kind") != "rung" and r["status"] != "skipped_cost"
                   for r in before)  # killed mid-generation

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    after = read_jsonl(journal)
    assert after[: len(before)] == before
    keys = [(r["hash"], r.get("kind"), r.get("steps")) for r in after]
    assert len(keys) == len(set(keys))  # nothing repeated
    assert _essence(out) == _essence(reference)
    assert _front(out) == _front(reference)


# ---- options, cost, defaults ------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "message"), [
    (["--rungs", "1000,300"], "error: --rungs: steps must increase from rung to rung, got 1000,300"),
    (["--rungs", "300,300"], "error: --rungs: steps must increase from rung to rung, got 300,300"),
    (["--rungs", "0,300"], "error: --rungs: '0' is not a positive number of steps"),
    (["--rungs", "-5,300"], "error: --rungs: '-5' is not a positive number of steps"),
    (["--rungs", "300,1k"], "error: --rungs: '1k' is not a positive number of steps"),
    (["--rungs", "300"],
     "error: --rungs: expected at least two step counts such as 300,1000,3000, got '300'"),
    ([], "error: rungs: --fidelity sh needs the steps of each rung, e.g. --rungs 300,1000,3000"),
    (["--rungs", "300,1000", "--promote", "0"], "error: --promote: must be a fraction in (0, 1], got 0.0"),
    (["--rungs", "300,1000", "--promote", "1.5"], "error: --promote: must be a fraction in (0, 1], got 1.5"),
])
def test_bad_rungs_are_a_one_line_error(tmp_path, flags, message):
    args = ["search", "--evaluator", "proxy", "--fidelity", "sh", *flags, "--out", str(tmp_path / "s")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.stderr.strip() == message and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_rungs_without_sh_and_a_changed_rung_on_resume_are_refused(reference, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["search", "--evaluator", "proxy", "--rungs", "300,1000", "--out",
                                  str(tmp_path / "s")])
    assert result.exit_code == 1 and result.stderr.strip() == ("error: --rungs: only with --fidelity sh "
                                                               "(successive halving)")
    result = runner.invoke(main, ["search", "--evaluator", "proxy", "--promote", "0.5", "--out",
                                  str(tmp_path / "s")])
    assert result.exit_code == 1 and result.stderr.startswith("error: --promote: only with --fidelity sh")
    result = runner.invoke(main, ["search", "--resume", "--out", str(reference), "--rungs", "300,1000"])
    assert result.exit_code == 1 and "error: rungs (--rungs): the search in" in result.stderr
    result = runner.invoke(main, ["search", "--resume", "--out", str(reference), "--promote", "0.5"])
    assert result.exit_code == 1 and "error: promote (--promote)" in result.stderr
    saved = json.loads((reference / "config.json").read_text())
    assert saved["fidelity"] == "sh" and saved["rungs"] == RUNGS and saved["train_steps"] == 3000


def test_the_defaults_stay_single_fidelity():
    c = SearchConfig().validate()
    assert (c.fidelity, c.rungs, c.train_steps) == ("single", None, 1000)
    assert expected_work(c) == (1000.0, 1.0)
    toml_like = resolve_config({"fidelity": "sh", "rungs": "100, 400"})
    assert toml_like.rungs == [100, 400] and toml_like.train_steps == 400
    # The brief training's init reaches every candidate's training.
    assert resolve_config({"init": "lsuv"}).init == "lsuv" and c.init == "he-zero"
    with pytest.raises(FalsrError, match="init: must be he-zero or lsuv"):
        resolve_config({"init": "normal"})
    assert resolve_config({"warmup": 100}).warmup == 100 and c.warmup is None
    with pytest.raises(FalsrError, match=r"warmup: .* \(300 steps\), got 300"):
        resolve_config({"fidelity": "sh", "rungs": "300,1000", "warmup": 300})
    # Candidates train the first steps of the shipped recipe's 12000-step schedule; 0 (or None): their own
    assert c.horizon == 12000 and resolve_config({"horizon": 0}).horizon is None
    assert resolve_config({}, preset="demo").horizon is None
    with pytest.raises(FalsrError, match=r"horizon: must be an integer ≥ 3000, got 2000"):
        resolve_config({"fidelity": "sh", "rungs": "300,3000", "horizon": 2000})


def test_the_cost_estimate_counts_the_rungs_an_average_candidate_trains():
    # Under the default horizon a promoted candidate continues its earlier rung: only the new steps count.
    continued = resolve_config({"fidelity": "sh", "rungs": RUNGS, "promote": 1 / 3})
    assert expected_work(continued) == pytest.approx((300 + 700 / 3 + 2000 / 9, 13 / 9))
    cfg = resolve_config({"fidelity": "sh", "rungs": RUNGS, "promote": 1 / 3, "pop": 9, "generations": 2,
                          "workers": 1, "horizon": 0})
    steps, validations = expected_work(cfg)
    assert steps == pytest.approx(300 + 1000 / 3 + 3000 / 9) and validations == pytest.approx(13 / 9)
    early = EarlyEstimate(cfg, first=True)
    early.plan(9, 9)
    for _ in range(3):  # three trainings at the first rung: 0.01 s a step, 1 s to validate
        early.add({"status": "ok", "steps": 300, "train_seconds": 3.0, "eval_seconds": 1.0})
    assert early.ready()
    per = 0.01 * steps + 13 / 9  # ≈ 11.1 s
    assert f"({per:.0f} s per trained candidate, {steps:.0f} steps on average over the rungs" in early.text()
    assert "for all 2 generations on this machine" in early.text()
    assert early.text().endswith("or give lower --rungs or a smaller --pop")
