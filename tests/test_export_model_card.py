"""Model cards read their facts from the run folder and the paper's figures from published.json."""

from __future__ import annotations

import json

from falsr_cli.atomic import append_jsonl
from falsr_cli.export.model_card import paper_figures, training_facts


def test_training_facts_come_from_the_run_files(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"arch": "FALSR-B", "data": "T91,BSDS200", "steps": 30, "patch": 64, "lr": 5e-4,
         "architecture": "x2-f32:conv_f16_k1_b1_skip:", "arch_hash": "abc"}))
    for step, extra in ((10, {"val_psnr": 30.0}), (20, {"val_psnr": 31.5}), (30, {"val_psnr": 31.0})):
        append_jsonl(tmp_path / "metrics.jsonl", {"step": step, "loss": 0.1} | extra)
    (tmp_path / "summary.json").write_text(json.dumps({"seconds": 12.5}))
    facts = training_facts(tmp_path)
    assert facts["steps_done"] == 30 and facts["wall_seconds"] == 12.5
    assert facts["best_validation"]["step"] == 20
    assert facts["config"]["patch"] == 64 and facts["arch_hash"] == "abc"


def test_paper_figures_are_read_not_typed(published, monkeypatch, shared_dir):
    monkeypatch.setenv("FALSR_SHARED", str(shared_dir))
    assert paper_figures("FALSR-B")["Set5"] == published["models"]["FALSR-B"]["Set5"]
    assert paper_figures("no-such-model") is None
