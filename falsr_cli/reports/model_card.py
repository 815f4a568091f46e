"""Model cards for shipped models: what a `.pb` is, how it was trained, and how it scores.

`falsr model card RUN PB OUT.json [--dataset Set5 --dataset Set14]` evaluates the exported graph with the
paper's protocol and writes the card (`make pretrained` calls it); `falsr model results` rewrites the
README's results table and plot from the cards (`make results`). The paper's
figures come from the package's copy of the paper's table: no number in a card is typed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from falsr_cli import atomic
from falsr_cli.atomic import atomic_path
from falsr_cli.cost.cost_model import mult_adds, params
from falsr_cli.data.reference import published_figures
from falsr_cli.machine import describe
from falsr_cli.runtime.evaluate import evaluate_model
from falsr_cli.runtime.open import open_model
from falsr_cli.space.architecture import RESIDUAL_SUFFIX, Architecture, load_architecture
from falsr_cli.train.runs import run_seconds
from falsr_cli.units import format_count


def machine() -> dict[str, Any]:
    """The host the run was trained on: CPU model and vector flags, cores, platform, GPUs."""
    import tensorflow as tf

    return {**describe(), "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def paper_figures(name: str) -> dict[str, Any] | None:
    """The paper's ×2 row for `name` (FALSR-B; FALSR-B-res is compared with FALSR-B), from the package's
    copy of the paper's table."""
    published = published_figures()
    return published["models"].get(name.removesuffix(RESIDUAL_SUFFIX)) if published else None


def training_facts(run: Path) -> dict[str, Any]:
    """Architecture, data, schedule, steps and wall time of a training run, from its own files."""
    config = atomic.read_json(run / "config.json")
    records = atomic.read_jsonl(run / "metrics.jsonl")
    summary_path = run / "summary.json"
    summary = atomic.read_json(summary_path) if summary_path.is_file() else {}
    keys = ("arch", "data", "val", "steps", "batch", "patch", "lr", "schedule", "warmup", "min_lr", "beta1",
            "beta2", "init", "reparam", "seed", "augment", "scale_aug", "precision", "data_images", "created",
            "versions", "restart")  # restart: the run collapsed and started again with another init
    vals = [r for r in records if "val_psnr" in r]
    return {
        "architecture": config.get("architecture"),
        "arch_hash": config.get("arch_hash"),
        "config": {k: config.get(k) for k in keys},
        "steps_done": records[-1]["step"] if records else 0,
        # Training and validation time of the whole run, over every process that worked on it.
        "wall_seconds": run_seconds(records),
        "best_validation": max(vals, key=lambda r: r["val_psnr"]) if vals else None,
        # The held-out validation curve (PSNR/SSIM on `val` by step): what chose the shipped weights.
        "validation_curve": [{"step": r["step"], "psnr": round(r["val_psnr"], 4),
                              **({"ssim": round(r["val_ssim"], 5)} if "val_ssim" in r else {})}
                             for r in vals],
        "summary": summary,
    }


def _scores(model: Any, datasets: tuple[str, ...], data_dir: str | os.PathLike | None) -> dict[str, dict]:
    """PSNR/SSIM of one loaded model on each data set, rounded as the cards and the table print them."""
    out = {}
    for ds in datasets:
        r = evaluate_model(model, ds, data_dir=data_dir)
        out[ds] = {"psnr": round(r["psnr"], 4), "ssim": round(r["ssim"], 5), "images": r["images"]}
    return out


def _cost(arch: Architecture) -> dict[str, int]:
    return {"mult_adds": mult_adds(arch), "params": params(arch)}


def copy_search(search: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
    """Copy a search's small files (config.json, evaluations.jsonl, pareto.json) into `<card stem>.search/`
    beside the card, as the searched model's provenance; what the card records about it."""
    src, card = Path(search), Path(out)
    folder = card.with_name(card.stem + ".search")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "evaluations.jsonl", "pareto.json", "front_latency.json"):
        if (src / name).is_file():
            shutil.copyfile(src / name, folder / name)
    pareto = atomic.read_json(src / "pareto.json")
    return {"folder": folder.name, "generation": pareto.get("generation"),
            "evaluations": pareto.get("evaluations"), "constraints": pareto.get("constraints"),
            "val": pareto.get("val")}


def write_model_card(run: str | os.PathLike, pb: str | os.PathLike, out: str | os.PathLike,
                     datasets: tuple[str, ...] = ("Set5", "Set14"),
                     data_dir: str | os.PathLike | None = None, name: str | None = None,
                     search: str | os.PathLike | None = None) -> dict[str, Any]:
    """Evaluate `pb` on `datasets` and write its card (training facts, machine, scores, paper's scores);
    `name` names the architecture (default: the run's --arch), `search` the search it was found by."""
    run, pb = Path(run), Path(pb)
    facts = training_facts(run)
    name = name or str(facts["config"]["arch"])
    scores = _scores(open_model(pb, scale=2), datasets, data_dir)  # opened once, for every data set
    paper = paper_figures(name)
    card = {
        "model": pb.name,
        "architecture_name": name,
        **{k: facts[k] for k in ("architecture", "arch_hash")},
        "training": {k: facts[k] for k in ("config", "steps_done", "wall_seconds", "best_validation",
                                          "validation_curve")},
        "machine": machine(),
        "scores": scores,
        "paper": ({ds: paper.get(ds) for ds in datasets} | {"trained_on": "DIV2K"}) if paper else None,
        "protocol": "x2; Y of BT.601 studio range; border 2 cropped; PSNR peak 255; "
                    "SSIM 11x11 Gaussian, sigma 1.5",
    }
    if search is not None:
        card["search"] = {**copy_search(search, out), "front_member": str(facts["config"]["arch"])}
    atomic.write_json(out, card)
    return card


README_START = "<!-- results:start (written by `make results`; do not edit) -->"
README_END = "<!-- results:end -->"


def load_cards(model_dir: str | os.PathLike = "pretrained_model") -> list[dict[str, Any]]:
    """The model cards in `model_dir`, with a "cost" (480×480 mult-adds, params) from the architecture."""
    cards = []
    for card_path in sorted(Path(model_dir).glob("*.json")):
        card = atomic.read_json(card_path)
        if "scores" not in card:  # e.g. an export report (FALSR-B.pb.json)
            continue
        if card.get("architecture"):
            card["cost"] = _cost(load_architecture(card["architecture"]))
        cards.append(card)
    return cards


def bicubic_scores(datasets: tuple[str, ...], data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Bicubic (MATLAB imresize) evaluated now on each data set: the floor every model must beat."""
    return {d: evaluate_model("bicubic", d, data_dir=data_dir) for d in datasets}


def published_graphs(datasets: tuple[str, ...], data_dir: str | os.PathLike | None = None,
                     reference: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The authors' FALSR-A/B/C graphs in the folder `reference` (`--published DIR`) evaluated now, as
    card-like rows; none without a folder or where it lacks them."""
    if reference is None:
        return []
    ref = Path(reference)
    rows = []
    for name in ("FALSR-A", "FALSR-B", "FALSR-C"):
        pb = ref / f"{name}.pb"
        if not pb.is_file():
            continue
        model = open_model(pb, scale=2)  # read once: vetted, run, and parsed for its architecture
        paper = paper_figures(name)
        rows.append({"architecture_name": name, "published": True, "model": str(pb),
                     "scores": _scores(model, datasets, data_dir),
                     "cost": _cost(model.arch),
                     "paper": {d: paper.get(d) for d in datasets} if paper else None})
    return rows


def results_table(cards: list[dict[str, Any]], bicubic: dict[str, dict], datasets: tuple[str, ...],
                  model_dir: str = "pretrained_model") -> str:
    """Markdown rows for the model cards (and published graphs) plus bicubic, each with its command."""
    head = ["model", "mult-adds / params", *[f"{d} PSNR / SSIM" for d in datasets],
            *[f"paper {d}" for d in datasets], "training", "command"]
    rows = []
    for card in cards:
        cost = card.get("cost")
        paper = card.get("paper") or {}
        if card.get("published"):
            label, trained = f"published: {card['architecture_name']}", "DIV2K, by the authors (V100 GPUs)"
            command = f"`falsr calculate --pb_path {card['architecture_name']}`"  # the name fetches it
        else:
            t = card["training"]
            hours = (t.get("wall_seconds") or 0) / 3600
            label = f"ours: {Path(card['model']).stem}"
            precision = t["config"].get("precision", "float32")
            factors = t["config"].get("scale_aug")
            extra = f" + scale aug {','.join(f'{f:g}' for f in factors)}" if factors else ""
            trained = (f"{t['config']['data']}{extra}, {t['steps_done']} steps, {precision}, "
                       f"{hours:.2f} h on {card['machine']['cpu_count']} CPU cores")
            command = f"`falsr calculate --pb_path {model_dir}/{card['model']}`"
        rows.append([
            label,
            f"{format_count(cost['mult_adds'])} / {cost['params']:,}" if cost else "–",
            *[f"{card['scores'][d]['psnr']:.4f} / {card['scores'][d]['ssim']:.5f}" for d in datasets],
            *[(f"{paper[d][0]:.2f} / {paper[d][1]:.4f}" if paper.get(d) else "–") for d in datasets],
            trained,
            command,
        ])
    rows.append(["bicubic", "–", *[f"{bicubic[d]['psnr']:.4f} / {bicubic[d]['ssim']:.5f}" for d in datasets],
                 *["–"] * len(datasets), "–",
                 ", ".join(f"`falsr evaluate --model bicubic --dataset {d}`" for d in datasets)])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plot_results(path: str | os.PathLike, cards: list[dict[str, Any]], bicubic: dict[str, dict],
                 published: dict[str, Any] | None = None, dataset: str = "Set5") -> None:
    """PSNR on `dataset` against mult-adds: our models, the paper's (with the models it compared), bicubic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from falsr_cli.search.report import staircase

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    others = {name: m for name, m in ((published or {}).get("models") or {}).items()
              if (m.get(dataset) or [None])[0] is not None and m.get("mult_adds")}
    if others:
        pts = [(m["mult_adds"], m[dataset][0]) for m in others.values()]
        xs, ys = staircase(pts)
        front = set(zip(xs, ys, strict=True))
        ax.step(xs, ys, where="post", c="0.6", lw=1, ls="--")
        ax.scatter([x for x, _ in pts], [y for _, y in pts], marker="x", s=25, c="0.5",
                   label="published models (the paper's table); front dashed")
        for name, m in others.items():
            falsr = name.startswith("FALSR")
            xy = (m["mult_adds"], m[dataset][0])
            if falsr:
                ax.scatter(*xy, marker="*", s=90, c="tab:blue", zorder=4)
            if falsr or xy in front:  # label only what the eye looks for: FALSR and the published front
                ax.annotate(name, xy, fontsize=7, xytext=(3, 4), textcoords="offset points",
                            color="tab:blue" if falsr else "0.3")
    ours = [c for c in cards if c.get("cost") and dataset in c["scores"] and not c.get("published")]
    if ours:
        pts = [(c["cost"]["mult_adds"], c["scores"][dataset]["psnr"]) for c in ours]
        hours = [t["wall_seconds"] / 3600 for c in ours if (t := c.get("training")) and t.get("wall_seconds")]
        data = sorted({c["training"]["config"]["data"] for c in ours if c.get("training")})
        trained = f"trained here on {', '.join(data)}" if data else "trained here"
        if hours:
            lo, hi = f"{min(hours):.1f}", f"{max(hours):.1f}"
            cores = max((c["machine"].get("cpu_count") or 0 for c in ours if c.get("machine")), default=0)
            where = f"{cores} CPU cores" if cores else "CPU"
            trained += f", {lo if lo == hi else f'{lo}–{hi}'} h each on {where}"
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=40, c="tab:red", zorder=3,
                   label=f"falsr: {trained}")
        ax.step(*staircase(pts), where="post", c="tab:red", lw=1)
        for c, (x, y) in zip(ours, pts, strict=True):
            name = c["architecture_name"]
            ax.annotate(f"ours {name}", (x, y), fontsize=7, xytext=(3, -10), textcoords="offset points",
                        color="tab:red")
            if name in others:  # same architecture: what the paper's training budget buys
                ax.plot([x, others[name]["mult_adds"]], [y, others[name][dataset][0]], c="tab:red", lw=0.6,
                        ls=":", alpha=0.7)
    if dataset in bicubic:
        ax.axhline(bicubic[dataset]["psnr"], ls=":", c="k", lw=1, label="bicubic")
    ax.set_xscale("log")
    ax.set_xlabel("mult-adds (480×480 LR input, ×2)")
    ax.set_ylabel(f"PSNR on {dataset} (dB)")
    ax.set_title(f"×2 super-resolution on {dataset}: accuracy against compute")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def update_readme(readme: str | os.PathLike, table: str) -> None:
    """Replace the text between the results markers of the README with `table` (atomically)."""
    text = Path(readme).read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        from falsr_cli.errors import FalsrError

        raise FalsrError(f"{readme}: no results markers ({README_START} … {README_END})")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    atomic.write_text(readme, f"{before}{README_START}\n{table}\n{README_END}{after}")
