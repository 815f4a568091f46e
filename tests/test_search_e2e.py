"""End to end: `falsr search --preset demo`, made tinier, with the real evaluator (incomplete training)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from falsr_cli.atomic import read_jsonl
from falsr_cli.cli import main
from falsr_cli.space.architecture import load_architecture


def test_demo_search_with_real_training_writes_a_loadable_front(tmp_path):
    out = tmp_path / "demo"
    args = ["search", "--preset", "demo", "--cells", "2", "--pop", "2", "--generations", "2", "--p-exploit",
            "0", "--train-steps", "3", "--patch", "16", "--batch", "2", "--workers", "0", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Pareto front after generation 2" in result.output

    records = read_jsonl(out / "evaluations.jsonl")
    trained = [r for r in records if r["status"] == "ok"]
    assert len(trained) >= 3 and all(r["train_seconds"] > 0 and 3 < r["psnr"] < 45 for r in trained)
    assert len({r["hash"] for r in records}) == len(records)

    doc = json.loads((out / "pareto.json").read_text())
    assert doc["val"] == "samples" and doc["front"]
    best = max(doc["front"], key=lambda m: m["psnr"])
    assert best["psnr"] == max(r["psnr"] for r in trained)  # the best PSNR is always on the front
    k = doc["front"].index(best)
    assert load_architecture(f"{out / 'pareto.json'}#{k}").to_text() == best["text"]
    assert (out / "state" / "gen_0002" / "state.json").is_file()
    for name in ("pareto.png", "history.png", "config.json"):
        assert (out / name).stat().st_size > 0
