"""A real local Dask cluster: 2 workers give the 1-worker journal (also under successive halving); a worker
killed mid-task is survived."""

from __future__ import annotations

from falsr_cli.atomic import read_jsonl
from falsr_cli.search.config import resolve_config
from falsr_cli.search.runner import run_search
from falsr_cli.search.workers import DaskPool

OPTIONS = {"evaluator": "proxy", "n": 3, "pop": 6, "generations": 2, "seed": 11, "p_exploit": 0.0,
           "flops_max": "25G"}


def _results(out) -> set[tuple]:
    return {(r["hash"], r["generation"], r["status"], r.get("psnr"), r.get("mult_adds"), r.get("params"),
             r.get("kind"), r.get("steps")) for r in read_jsonl(out / "evaluations.jsonl")}


def test_two_workers_match_one_and_survive_a_worker_killed_mid_task(tmp_path):
    # One LocalCluster (as --workers starts it), first with one worker process, then scaled to two.
    pool = DaskPool(workers=1)
    try:
        one = tmp_path / "one"
        run_search(resolve_config({**OPTIONS, "workers": 1, "out": str(one),
                                   "evaluator_options": {"sleep": 0.2}}), quiet=True, pool=pool)
        pool.cluster.scale(2)
        pool.client.wait_for_workers(2, timeout=60)
        two = tmp_path / "two"
        marker = tmp_path / "killed-once"
        # The first candidate to run SIGKILLs its own worker process (once): Dask reports KilledWorker,
        # the candidate is submitted again, and the search goes on.
        run_search(resolve_config({**OPTIONS, "workers": 2, "out": str(two),
                                   "evaluator_options": {"sleep": 0.2, "kill_marker": str(marker)}}),
                   quiet=True, pool=pool)
        # Successive halving: each rung's trainings run on both workers, the journal is that of one process.
        halving = {**OPTIONS, "fidelity": "sh", "rungs": [100, 1000], "promote": 0.5}
        sh_two = tmp_path / "sh-two"
        run_search(resolve_config({**halving, "workers": 2, "out": str(sh_two),
                                   "evaluator_options": {"sleep": 0.2}}), quiet=True, pool=pool)
    finally:
        pool.close()
    sh_one = tmp_path / "sh-one"
    run_search(resolve_config({**halving, "workers": 0, "out": str(sh_one)}), quiet=True)
    assert _results(sh_two) == _results(sh_one)
    rungs = [r for r in read_jsonl(sh_two / "evaluations.jsonl") if r.get("kind") == "rung"]
    assert len({r["worker"] for r in rungs}) == 2
    assert marker.exists()
    assert _results(two) == _results(one)
    records = read_jsonl(two / "evaluations.jsonl")
    retried = [r for r in records if r.get("lost")]
    assert retried and all(r["status"] == "ok" and r["attempts"] == 2 for r in retried)
    assert all("KilledWorker" in r["lost"][0] for r in retried)
    trained = [r for r in records if r["status"] == "ok"]
    assert len(trained) >= 6 and any(r["status"] == "skipped_cost" for r in records)
