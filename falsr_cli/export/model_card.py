"""Model cards for shipped models: what a `.pb` is, how it was trained, and how it scores.

`python -m falsr_cli.export.model_card RUN PB OUT.json [--dataset Set5 --dataset Set14]` evaluates the
exported graph with the paper's protocol and writes the card; `make pretrained` calls it. The paper's
figures are read from published.json (env FALSR_SHARED) when it is there: no number in a card is typed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

from falsr_cli import atomic
from falsr_cli.paths import shared_dir


def machine() -> dict[str, Any]:
    """The host the run was trained on, as far as Python can tell."""
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


def paper_figures(name: str) -> dict[str, Any] | None:
    """The paper's ×2 row for `name` (e.g. FALSR-B) from published.json, if the reference data is here."""
    path = shared_dir() / "reference" / "published.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["models"].get(name)


def training_facts(run: Path) -> dict[str, Any]:
    """Architecture, data, schedule, steps and wall time of a training run, from its own files."""
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    records = atomic.read_jsonl(run / "metrics.jsonl")
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    keys = ("arch", "data", "val", "steps", "batch", "patch", "lr", "schedule", "warmup", "min_lr", "seed",
            "augment", "precision", "data_images", "created", "versions")
    vals = [r for r in records if "val_psnr" in r]
    return {
        "architecture": config.get("architecture"),
        "arch_hash": config.get("arch_hash"),
        "config": {k: config.get(k) for k in keys},
        "steps_done": records[-1]["step"] if records else 0,
        # Wall time of the training loop (of the last process, if the run was resumed).
        "wall_seconds": summary.get("train_seconds"),
        "best_validation": max(vals, key=lambda r: r["val_psnr"]) if vals else None,
        "summary": summary,
    }


def write_model_card(run: str | os.PathLike, pb: str | os.PathLike, out: str | os.PathLike,
                     datasets: tuple[str, ...] = ("Set5", "Set14"),
                     data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Evaluate `pb` on `datasets` and write its card (training facts, machine, scores, paper's scores)."""
    from falsr_cli.runtime.evaluate import evaluate_model
    from falsr_cli.runtime.loader import load_model

    run, pb = Path(run), Path(pb)
    facts = training_facts(run)
    name = str(facts["config"]["arch"])
    model = load_model(str(pb))  # vetted and pruned once, for every data set
    scores = {}
    for ds in datasets:
        r = evaluate_model(model, ds, data_dir=data_dir, progress=False)
        scores[ds] = {"psnr": round(r["psnr"], 4), "ssim": round(r["ssim"], 5), "images": r["images"]}
    paper = paper_figures(name)
    card = {
        "model": pb.name,
        "architecture_name": name,
        **{k: facts[k] for k in ("architecture", "arch_hash")},
        "training": {k: facts[k] for k in ("config", "steps_done", "wall_seconds", "best_validation")},
        "machine": machine(),
        "scores": scores,
        "paper": ({ds: paper.get(ds) for ds in datasets} | {"trained_on": "DIV2K"}) if paper else None,
        "protocol": "x2; Y of BT.601 studio range; border 2 cropped; PSNR peak 255; "
                    "SSIM 11x11 Gaussian, sigma 1.5",
    }
    atomic.write_json(out, card)
    return card


README_START = "<!-- results:start (written by `make results`; do not edit) -->"
README_END = "<!-- results:end -->"


def results_table(model_dir: str | os.PathLike = "pretrained_model",
                  datasets: tuple[str, ...] = ("Set5", "Set14"),
                  data_dir: str | os.PathLike | None = None) -> str:
    """Markdown rows for every model card in `model_dir`, plus bicubic evaluated now, with their commands."""
    from falsr_cli.runtime.evaluate import evaluate_model

    head = ["model", *[f"{d} PSNR / SSIM" for d in datasets], *[f"paper {d}" for d in datasets],
            "training", "command"]
    rows = []
    for card_path in sorted(Path(model_dir).glob("*.json")):
        card = json.loads(card_path.read_text(encoding="utf-8"))
        if "scores" not in card:
            continue
        t = card["training"]
        cfg = t["config"]
        hours = (t.get("wall_seconds") or 0) / 3600
        paper = card.get("paper") or {}
        rows.append([
            f"ours: {card['architecture_name']}",
            *[f"{card['scores'][d]['psnr']:.4f} / {card['scores'][d]['ssim']:.5f}" for d in datasets],
            *[(f"{paper[d][0]:.2f} / {paper[d][1]:.4f}" if paper.get(d) else "–") for d in datasets],
            f"{cfg['data']}, {t['steps_done']} steps, {hours:.2f} h on "
            f"{card['machine']['cpu_count']} CPU cores",
            f"`falsr calculate --pb_path {model_dir}/{card['model']}`",
        ])
    bicubic = [evaluate_model("bicubic", d, data_dir=data_dir, progress=False) for d in datasets]
    rows.append(["bicubic", *[f"{r['psnr']:.4f} / {r['ssim']:.5f}" for r in bicubic], *["–"] * len(datasets),
                 "–", ", ".join(f"`falsr evaluate --model bicubic --dataset {d}`" for d in datasets)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def update_readme(readme: str | os.PathLike, table: str) -> None:
    """Replace the text between the results markers of the README with `table` (atomically)."""
    text = Path(readme).read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        from falsr_cli.errors import FalsrError

        raise FalsrError(f"{readme}: no results markers ({README_START} … {README_END})")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    atomic.write_text(readme, f"{before}{README_START}\n{table}\n{README_END}{after}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m falsr_cli.export.model_card", description=__doc__)
    p.add_argument("run", nargs="?")
    p.add_argument("pb", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--dataset", action="append", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--readme", default=None,
                   help="Instead: rewrite this README's results table from the cards.")
    a = p.parse_args(argv)
    datasets = tuple(a.dataset or ("Set5", "Set14"))
    if a.readme:
        table = results_table(datasets=datasets, data_dir=a.data_dir)
        update_readme(a.readme, table)
        print(table)
        return
    if not (a.run and a.pb and a.out):
        p.error("RUN, PB and OUT are required (or --readme README.md)")
    card = write_model_card(a.run, a.pb, a.out, datasets, a.data_dir)
    print(json.dumps(card["scores"]))


if __name__ == "__main__":
    main()
