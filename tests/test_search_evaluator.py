"""The evaluator: cost-infeasible candidates are never trained, none twice, failures recorded and survived."""

from __future__ import annotations

from falsr_cli.atomic import read_jsonl
from falsr_cli.cost.cost_model import mult_adds
from falsr_cli.search.config import resolve_config
from falsr_cli.search.evaluator import proxy_evaluate, run_candidate
from falsr_cli.search.runner import run_search
from falsr_cli.space.architecture import PRESETS


def test_only_affordable_new_candidates_are_trained_and_failures_are_recorded(tmp_path):
    trained = []

    def stand_in(arch, **kwargs):
        trained.append(arch)
        return proxy_evaluate(arch, seed=kwargs["seed"], fail_every=4)

    cfg = resolve_config({"evaluator": "proxy", "workers": 0, "n": 3, "pop": 8, "generations": 4,
                          "flops_max": "10G", "p_exploit": 0.0, "out": str(tmp_path / "run")})
    result = run_search(cfg, train_fn=stand_in, quiet=True)
    records = read_jsonl(tmp_path / "run" / "evaluations.jsonl")
    assert all(mult_adds(a) <= 1e10 for a in trained)  # over budget: never trained
    assert len({a.hash() for a in trained}) == len(trained)  # nobody trained twice
    assert {r["status"] for r in records} == {"ok", "skipped_cost", "failed"}
    assert len([r for r in records if r["status"] != "skipped_cost"]) == len(trained)
    failed = [r for r in records if r["status"] == "failed"]
    assert all(r["reason"] == "loss became NaN (proxy)" and r["constraints"]["failed"] == 1 for r in failed)
    assert not {r["hash"] for r in failed} & {m["hash"] for m in result.front}
    skipped = [r for r in records if r["status"] == "skipped_cost"]
    assert all(r["constraints"]["flops_max"] > 0 and "psnr" not in r for r in skipped)
    assert sum(h["failed"] for h in result.history) == len(failed)


def test_run_candidate_turns_errors_into_failed_results():
    arch = PRESETS["FALSR-C"]

    def boom(arch, **kwargs):
        raise MemoryError("out of memory while allocating a tensor")

    out = run_candidate(arch.to_dict(), {"evaluator": "proxy", "seed": 1}, train_fn=boom)
    assert out["status"] == "failed" and out["reason"].startswith("MemoryError: out of memory")
    ok = run_candidate(arch.to_dict(), {"evaluator": "proxy", "seed": 1, "options": {}})
    again = run_candidate(arch.to_dict(), {"evaluator": "proxy", "seed": 1, "options": {}})
    assert ok["status"] == "ok" and ok["psnr"] == again["psnr"]  # deterministic for a seed
    by_name = {"evaluator": "falsr_cli.search.evaluator:proxy_evaluate", "seed": 1}
    plugin = run_candidate(arch.to_dict(), by_name)
    assert plugin["psnr"] == ok["psnr"]
    # a brief run that started again with LSUV says so in the candidate's record
    restarted = {"restart": {"psnr": 29.7, "init": "he-zero"}}
    out = run_candidate(arch.to_dict(), {"evaluator": "proxy", "seed": 1},
                        train_fn=lambda arch, **kw: {**proxy_evaluate(arch, seed=1), **restarted})
    assert out["status"] == "ok" and out["restart"] == restarted["restart"] and "restart" not in ok


def test_a_generation_without_one_successful_evaluation_stops_the_search_with_the_reasons(tmp_path):
    import pytest

    from falsr_cli.errors import FalsrError

    def broken(arch, **kwargs):
        raise ValueError("patch: 96 is larger than every training image")

    cfg = resolve_config({"evaluator": "proxy", "workers": 0, "n": 3, "pop": 6, "generations": 3,
                          "p_exploit": 0.0, "out": str(tmp_path / "run")})
    with pytest.raises(FalsrError, match=r"generation 1: no candidate trained successfully \(6 × ValueError: "
                                         r"patch: 96 is larger than every training image\)"):
        run_search(cfg, train_fn=broken, quiet=True)
    # What was tried stays in the journal; nothing is left half written.
    assert len(read_jsonl(tmp_path / "run" / "evaluations.jsonl")) == 6
    tight = resolve_config({"evaluator": "proxy", "workers": 0, "n": 3, "pop": 6, "generations": 2,
                            "flops_max": "1M", "p_exploit": 0.0, "out": str(tmp_path / "tight")})
    with pytest.raises(FalsrError, match="generation 1: all 6 candidates break the cost budget"):
        run_search(tight, quiet=True)


def test_the_first_generation_gives_an_estimate_of_the_whole_run():
    from falsr_cli.search.runner import estimate_text

    cfg = resolve_config({"generations": 10, "pop": 64})
    h = {"generation": 1, "trained": 60, "elapsed": 600.0}
    text = estimate_text(cfg, h, 600.0)
    assert text.startswith("estimate: 10 generations ≈ 1:40:00 on this machine (10.0 s per trained candidate")
    assert "about 6 generations fit in an hour (--generations 6)" in text
    capped = resolve_config({"generations": 10, "pop": 64, "max_evals": 120})
    assert estimate_text(capped, h, 600.0).startswith("estimate: 2 generations ≈ 0:20:00")


def test_a_misspelt_evaluator_stops_the_cli_search_with_its_reason_and_status_1(tmp_path):
    from click.testing import CliRunner

    from falsr_cli.cli import main

    args = ["search", "--evaluator", "prxy", "--workers", "0", "--n", "2", "--pop", "3", "--generations", "2",
            "--quiet", "--out", str(tmp_path / "s")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    # Refused before the first generation, naming the option typed.
    assert result.stderr.strip() == "error: --evaluator: 'prxy' is not brief, proxy or module:function"
    assert not (tmp_path / "s" / "evaluations.jsonl").exists()


def test_a_search_says_its_whole_cost_after_its_first_trained_candidates(tmp_path):
    said = []
    cfg = resolve_config({"evaluator": "proxy", "workers": 0, "n": 3, "pop": 8, "generations": 5,
                          "p_exploit": 0.0, "out": str(tmp_path / "run")})
    run_search(cfg, log=said.append, stop_after=1)
    early = [m for m in said if m.startswith("estimate after 3 trained candidates: about ")]
    assert len(early) == 1 and "for all 5 generations on this machine" in early[0]
    assert said.index(early[0]) < next(i for i, m in enumerate(said) if m.startswith("estimate: "))


def test_auto_precision_is_resolved_once_for_the_search_and_kept_on_resume(tmp_path, monkeypatch):
    import json

    from falsr_cli import machine

    seen = []

    def stand_in(arch, **kwargs):
        seen.append(kwargs["precision"])
        return proxy_evaluate(arch, seed=kwargs["seed"])

    opts = {"evaluator": "brief", "workers": 0, "n": 3, "pop": 4, "out": str(tmp_path / "run")}
    monkeypatch.setattr(machine, "cpu_flags", lambda: ["avx2", "avx512_bf16"])
    run_search(resolve_config({**opts, "generations": 1}), train_fn=stand_in, quiet=True)
    assert set(seen) == {"bfloat16"}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "bfloat16"
    # Continued where auto would mean float32: every candidate still trains as the first ones did.
    monkeypatch.setattr(machine, "cpu_flags", lambda: ["avx2"])
    seen.clear()
    run_search(resolve_config({**opts, "generations": 2}), train_fn=stand_in, quiet=True)
    assert seen and set(seen) == {"bfloat16"}


def test_searches_saved_before_the_precision_and_horizon_options_resume_as_they_trained(tmp_path):
    import json

    from falsr_cli.search.journal import Journal

    cfg = resolve_config({"evaluator": "proxy", "out": str(tmp_path)}).to_dict()
    del cfg["precision"], cfg["horizon"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    saved = Journal(tmp_path).read_config()
    assert (saved.precision, saved.horizon) == ("float32", None)


def test_the_horizon_reaches_every_candidates_training(tmp_path):
    seen = []

    def stand_in(arch, **kwargs):
        seen.append((kwargs["steps"], kwargs["horizon"]))
        return proxy_evaluate(arch, seed=kwargs["seed"])

    opts = {"evaluator": "brief", "workers": 0, "n": 3, "pop": 4, "generations": 1, "train_steps": 50}
    run_search(resolve_config({**opts, "out": str(tmp_path / "a")}), train_fn=stand_in, quiet=True)
    assert seen and set(seen) == {(50, 12000)}
    seen.clear()
    run_search(resolve_config({**opts, "horizon": 0, "out": str(tmp_path / "b")}), train_fn=stand_in,
               quiet=True)
    assert seen and set(seen) == {(50, None)}


def test_successive_halvings_rungs_continue_each_others_runs_under_a_horizon(tmp_path):
    from pathlib import Path

    seen = []

    def stand_in(arch, **kwargs):
        # stands in for the brief run's checkpoint: the steps it reached
        folder = kwargs.get("checkpoint_dir")
        seen.append((arch.hash(), kwargs["steps"], folder))
        out = proxy_evaluate(arch, seed=kwargs["seed"], steps=kwargs["steps"])
        if folder:
            mark = Path(folder) / "steps"
            out["continued_from"] = int(mark.read_text()) if mark.exists() else 0
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(str(kwargs["steps"]))
        return out

    opts = {"evaluator": "brief", "workers": 0, "n": 3, "pop": 6, "generations": 2, "p_exploit": 0.0,
            "fidelity": "sh", "rungs": "100,300", "promote": 0.5}
    run_search(resolve_config({**opts, "out": str(tmp_path / "a")}), train_fn=stand_in, quiet=True)
    assert seen and all(folder == str(tmp_path / "a" / "rungs" / h) for h, _, folder in seen)
    rungs = [r for r in read_jsonl(tmp_path / "a" / "evaluations.jsonl") if r.get("kind") == "rung"]
    assert {(r["steps"], r.get("continued_from")) for r in rungs} == {(100, None), (300, 100)}
    assert not any((tmp_path / "a" / "rungs").iterdir())  # each generation's checkpoints are gone
    # Without a horizon each rung has its own schedule: trained again from scratch, nothing kept.
    seen.clear()
    run_search(resolve_config({**opts, "horizon": 0, "out": str(tmp_path / "b")}), train_fn=stand_in,
               quiet=True)
    assert seen and all(folder is None for _, _, folder in seen)
