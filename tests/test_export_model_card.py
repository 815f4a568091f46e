"""Model cards read their facts from the run folder and the paper's figures from published.json."""

from __future__ import annotations

import json

import pytest

from falsr_cli.atomic import append_jsonl
from falsr_cli.reports.model_card import paper_figures, training_facts


def test_training_facts_come_from_the_run_files(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"arch": "FALSR-B", "data": "T91,BSDS200", "steps": 30, "patch": 64, "lr": 5e-4,
         "architecture": "x2-f32:conv_f16_k1_b1_skip:", "arch_hash": "abc"}))
    for step, extra in ((10, {"val_psnr": 30.0}), (20, {"val_psnr": 31.5}), (30, {"val_psnr": 31.0})):
        append_jsonl(tmp_path / "metrics.jsonl",
                     {"step": step, "loss": 0.1, "steps_per_s": 2.0, "val_seconds": 0.5} | extra)
    # The last process's summary knows only its own time; the card counts the whole run from the metrics.
    (tmp_path / "summary.json").write_text(json.dumps({"train_seconds": 0.4}))
    facts = training_facts(tmp_path)
    assert facts["steps_done"] == 30 and facts["wall_seconds"] == 3 * 10 / 2.0 + 3 * 0.5
    assert facts["best_validation"]["step"] == 20
    assert facts["config"]["patch"] == 64 and facts["arch_hash"] == "abc"


@pytest.mark.shared
def test_paper_figures_are_read_not_typed(published, monkeypatch, shared_dir):
    monkeypatch.setenv("FALSR_SHARED", str(shared_dir))
    assert paper_figures("FALSR-B")["Set5"] == published["models"]["FALSR-B"]["Set5"]
    assert paper_figures("no-such-model") is None


def test_results_table_from_cards_and_readme_update(tmp_path):
    from falsr_cli.reports.model_card import (
        README_END,
        README_START,
        bicubic_scores,
        load_cards,
        results_table,
        update_readme,
    )

    card = {"model": "FALSR-B.pb", "architecture_name": "FALSR-B", "architecture": "FALSR-B",
            "training": {"config": {"data": "T91,BSDS200", "precision": "bfloat16"}, "steps_done": 2500,
                         "wall_seconds": 3600},
            "machine": {"cpu_count": 2}, "scores": {"samples": {"psnr": 33.123456, "ssim": 0.9123456}},
            "paper": None}
    (tmp_path / "FALSR-B.json").write_text(json.dumps(card))
    (tmp_path / "FALSR-B.pb.json").write_text(json.dumps({"format": "pb"}))  # an export report: not a card
    cards = load_cards(tmp_path)
    assert len(cards) == 1 and cards[0]["cost"] == {"mult_adds": 74_502_144_000, "params": 324_745}
    bicubic = bicubic_scores(("samples",), data_dir=tmp_path / "data")
    table = results_table(cards, bicubic, ("samples",))
    rows = table.splitlines()
    assert len(rows) == 4  # header, rule, ours, bicubic
    assert "33.1235 / 0.91235" in rows[2] and "2500 steps, bfloat16, 1.00 h on 2 CPU cores" in rows[2]
    assert "74.5G / 324,745" in rows[2]
    # A lever that changes the training data is named in the row.
    card["training"]["config"]["scale_aug"] = [0.9, 0.6]
    assert "T91,BSDS200 + scale aug 0.9,0.6, 2500 steps" in results_table([card], bicubic, ("samples",))
    assert rows[3].startswith("| bicubic | – | 32.5399 / 0.91955")  # the built-in samples, MATLAB bicubic
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold\n{README_END}\nrest\n")
    update_readme(readme, table)
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("rest\n") and table in text


def test_results_plot_draws_cards_published_models_and_bicubic(tmp_path):
    from falsr_cli.reports.model_card import plot_results

    card = {"architecture_name": "FALSR-B", "cost": {"mult_adds": 7.45e10, "params": 324_745},
            "scores": {"Set5": {"psnr": 35.3, "ssim": 0.946}}}
    published = {"models": {"FALSR-B": {"Set5": [37.61, 0.9585], "mult_adds": 7.47e10},
                            "SRCNN": {"Set5": [36.66, 0.9542], "mult_adds": 5.25e10},
                            "no-cost": {"Set5": [30.0, 0.9], "mult_adds": None}}}
    out = tmp_path / "pareto.png"
    plot_results(out, [card], {"Set5": {"psnr": 33.64}}, published)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_results(out, [], {}, None)  # nothing to draw is still a valid (empty) plot, not a crash
    assert out.stat().st_size > 0


@pytest.mark.shared
def test_published_graph_rows_are_measured_now(tmp_path, reference_dir, benchmark_mirror, published,
                                               monkeypatch):
    """`make results` runs the authors' graphs when the reference data is here; it has none otherwise."""
    from falsr_cli.reports.model_card import published_graphs, results_table

    monkeypatch.setenv("FALSR_SHARED", str(reference_dir.parent))
    (tmp_path / "FALSR-B.pb").symlink_to(reference_dir / "FALSR-B.pb")  # one graph keeps the test short
    rows = published_graphs(("Set5",), data_dir=benchmark_mirror, reference=tmp_path)
    assert [r["architecture_name"] for r in rows] == ["FALSR-B"]
    measured = published["measured"]["FALSR-B.pb"]["Set5"]
    assert abs(rows[0]["scores"]["Set5"]["psnr"] - measured[0]) <= 5e-4
    assert rows[0]["cost"]["params"] == published["graph_counts"]["FALSR-B.pb"]["params"]
    table = results_table(rows, {"Set5": {"psnr": 33.6404, "ssim": 0.92922}}, ("Set5",))
    assert "| published: FALSR-B | 74.5G / 324,745 | 37.6141 / 0.95852 | 37.61 / 0.9585 | DIV2K" in table
    assert published_graphs(("Set5",), data_dir=benchmark_mirror, reference=tmp_path / "absent") == []


def test_a_searched_model_card_carries_its_search(tmp_path):
    # copy_search puts the search's small files beside the card and says what it was
    import json as _json

    from falsr_cli.reports.model_card import copy_search

    search = tmp_path / "search"
    search.mkdir()
    (search / "config.json").write_text("{}")
    (search / "evaluations.jsonl").write_text('{"hash": "a"}\n')
    (search / "pareto.json").write_text(_json.dumps({"generation": 4, "evaluations": 32, "val": "BSDS200-val",
                                                     "constraints": {"flops_max": 74.5e9}, "front": []}))
    (search / "state").mkdir()  # snapshots are not provenance: not copied
    info = copy_search(search, tmp_path / "pm" / "t291-NAS-B.json")
    folder = tmp_path / "pm" / "t291-NAS-B.search"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "evaluations.jsonl", "pareto.json"]
    assert info == {"folder": "t291-NAS-B.search", "generation": 4, "evaluations": 32,
                    "constraints": {"flops_max": 74.5e9}, "val": "BSDS200-val"}
