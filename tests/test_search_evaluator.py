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
