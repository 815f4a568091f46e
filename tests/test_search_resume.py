"""A search killed with SIGKILL and re-run continues exactly; the CLI's search group and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from search_runs import killed_run, reference_run

from falsr_cli.atomic import read_jsonl
from falsr_cli.cli import main

# A tiny search with the cheap deterministic proxy evaluator. The killed run is a separate process: it goes
# without the RL controller (no TensorFlow to import); the controller's resumption is tested in-process.
OPTIONS = {"evaluator": "proxy", "workers": 0, "n": 3, "pop": 8, "generations": 5, "flops_max": "8G",
           "p_exploit": 0.0, "seed": 3}
WITH_RL = {**OPTIONS, "p_exploit": 0.5, "controller_hidden": 16, "controller_embed": 8}


def _toml(path: Path, sleep: float) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in OPTIONS.items()]
    lines.append(f"[evaluator_options]\nsleep = {sleep}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of the tiny search."""
    return reference_run(tmp_path_factory.mktemp("search") / "reference", OPTIONS, 5)


def _front(run: Path) -> list[tuple]:
    doc = json.loads((run / "pareto.json").read_text())
    return [(m["hash"], m["psnr"], m["mult_adds"]) for m in doc["front"]]


def test_sigkill_at_any_moment_then_the_same_command_gives_the_uninterrupted_front(reference, tmp_path):
    toml = _toml(tmp_path / "search.toml", sleep=0.05)
    out = tmp_path / "killed"
    args = ["search", "--config", str(toml), "--out", str(out), "-q"]
    journal = out / "evaluations.jsonl"
    # Kill in the middle of generation 3: some of its evaluations journalled, its snapshot not written.
    before = killed_run(args, journal, lambda records: len(records) >= 19)
    assert not (out / "pareto.png").exists()  # it really was cut short

    result = CliRunner().invoke(main, args)  # the same command again
    assert result.exit_code == 0, result.output
    after = read_jsonl(journal)
    assert after[: len(before)] == before  # nothing lost
    hashes = [r["hash"] for r in after]
    assert len(hashes) == len(set(hashes))  # nothing repeated
    assert set(hashes) == {r["hash"] for r in read_jsonl(reference / "evaluations.jsonl")}
    assert _front(out) == _front(reference)
    assert (out / "pareto.png").is_file() and (out / "history.png").is_file()


def test_a_generation_cut_by_a_kill_counts_the_time_of_both_processes(tmp_path):
    """The generation's time (and so the search's elapsed time and its estimate) counts what the killed
    process spent on it, read from the journal, not only the resumed process's share."""
    toml = _toml(tmp_path / "search.toml", sleep=0.5)
    out = tmp_path / "run"
    args = ["search", "--config", str(toml), "--out", str(out), "--generations", "3", "-q"]
    journal = out / "evaluations.jsonl"

    def first_trained_of_generation_3(records: list[dict]) -> bool:
        return any(r.get("generation") == 3 and r.get("wall_seconds") for r in records)

    killed_run(args, journal, first_trained_of_generation_3)
    assert CliRunner().invoke(main, args).exit_code == 0
    records = read_jsonl(journal)
    spent = sum(r.get("wall_seconds") or 0.0 for r in records if r.get("generation") == 3)
    history = json.loads((out / "state" / "gen_0003" / "state.json").read_text())["history"]
    assert history[2]["elapsed"] - history[1]["elapsed"] >= spent >= 1.0


def test_carried_seconds_counts_rungs_under_successive_halving_and_shares_them_among_workers():
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.runner import carried_seconds

    records = [{"generation": 2, "wall_seconds": 5.0}, {"generation": 2, "kind": "rung", "wall_seconds": 3.0},
               {"generation": 2, "kind": "rung", "wall_seconds": 2.0}, {"generation": 1, "wall_seconds": 9.0},
               {"generation": 2, "status": "skipped_cost"}]
    plain = resolve_config({**OPTIONS, "out": "x"})
    assert carried_seconds(records, 2, plain) == 5.0
    sh = resolve_config({**OPTIONS, "out": "x", "fidelity": "sh", "rungs": [10, 20], "workers": 2})
    assert carried_seconds(records, 2, sh) == 2.5


def test_the_controller_state_resumes_too(tmp_path):
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.runner import run_search

    whole = run_search(resolve_config({**WITH_RL, "out": str(tmp_path / "a")}), quiet=True)
    part = run_search(resolve_config({**WITH_RL, "out": str(tmp_path / "b")}), quiet=True, stop_after=2)
    assert part.generation == 2
    rest = run_search(resolve_config({**WITH_RL, "out": str(tmp_path / "b")}), quiet=True)
    assert [r["hash"] for r in rest.front] == [r["hash"] for r in whole.front]
    proposals = [r for r in read_jsonl(tmp_path / "b" / "evaluations.jsonl") if r["operator"] == "rl"]
    assert len(proposals) >= 3
    def essence(run: str) -> list[tuple]:
        return [(r["seq"], r["hash"], r["generation"], r["operator"], r["status"], r.get("psnr"))
                for r in read_jsonl(tmp_path / run / "evaluations.jsonl")]

    assert essence("a") == essence("b")


def test_search_show_prints_the_front_and_members_load_as_architectures(reference):
    from falsr_cli.space.architecture import load_architecture

    result = CliRunner().invoke(main, ["search", "show", str(reference)])
    assert result.exit_code == 0, result.output
    front = json.loads((reference / "pareto.json").read_text())["front"]
    assert "Pareto front after generation 5" in result.output and f"{front[0]['psnr']:.4f}" in result.output
    arch = load_architecture(f"{reference / 'pareto.json'}#{len(front) - 1}")
    assert arch.to_text() == front[-1]["text"]
    shown = CliRunner().invoke(main, ["search", "show", str(reference), "--json"])
    assert json.loads(shown.output)["front"] == front


def test_resume_with_a_changed_constraint_refuses_and_the_group_parses_both_forms(reference, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["search", "--resume", "--out", str(reference), "--flops-max", "9G"])
    assert result.exit_code == 1 and "error: flops_max (--flops-max)" in result.output
    result = runner.invoke(main, ["search", "--out", str(reference), "--evaluator", "proxy", "--cells", "4"])
    assert result.exit_code == 1 and "error: n (--n)" in result.output
    result = runner.invoke(main, ["search", "--resume", "--out", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no search in" in result.output
    result = runner.invoke(main, ["search", "--out", str(reference), "show", str(reference)])
    assert result.exit_code == 2 and "go without a subcommand" in result.output
    result = runner.invoke(main, ["search", "show", str(tmp_path)])
    assert result.exit_code == 1 and "no pareto.json" in result.output
    result = runner.invoke(main, ["search"])
    assert "show" in result.output and "--flops-max" in result.output  # help, as click does for no args
    result = runner.invoke(main, ["search", "--flops-max", "lots", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "--flops-max: 'lots'" in result.output  # the flag typed
    # --resume with an unchanged search and more generations continues it (nothing left to train: 5 → 5).
    result = runner.invoke(main, ["search", "--resume", "--out", str(reference), "--generations", "5", "-q"])
    assert result.exit_code == 0, result.output
