"""Every table the command line prints: the API returns data, these turn it into rich tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from falsr_cli.search.runner import clock
from falsr_cli.train.runs import METRICS, TENSORBOARD
from falsr_cli.units import format_count


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def per_image_table(rows: Sequence[dict[str, Any]], title: str | None = None) -> Any:
    """Per-image PSNR/SSIM/time, with the conversion note of grayscale/RGBA inputs."""
    table = Table(title=title)
    for col in ("image", "PSNR (dB)", "SSIM", "seconds"):
        table.add_column(col, justify="left" if col == "image" else "right")
    table.add_column("note")
    for r in rows:
        table.add_row(r["name"], _fmt(r["psnr"], 4), _fmt(r["ssim"], 5), _fmt(r["seconds"], 3),
                      r.get("note") or "")
    return table


def summary_table(entries: dict[str, dict[str, Any]], title: str | None = None) -> Any:
    """One row per data set: images, average PSNR/SSIM, model throughput and time."""
    table = Table(title=title)
    for col in ("data set", "images", "PSNR (dB)", "SSIM", "images/s", "model s", "notes"):
        table.add_column(col, justify="left" if col in ("data set", "notes") else "right")
    for name, e in entries.items():
        notes = f"{len(e['notes'])} converted" if e.get("notes") else ""
        table.add_row(name, str(e["images"]), _fmt(e["psnr"], 4), _fmt(e["ssim"], 5),
                      _fmt(e["images_per_second"], 2), _fmt(e["model_seconds"], 2), notes)
    return table


def front_table(doc: dict[str, Any]):
    """A rich Table of the front in pareto.json."""
    c = doc.get("constraints") or {}
    def limit(k: str, v: Any) -> str:
        return str(v) if k == "psnr_min" else f"{v:g} ms" if k == "latency_max" else format_count(v)

    budget = ", ".join(f"{k} {limit(k, v)}" for k, v in c.items() if v is not None)
    title = (f"Pareto front after generation {doc.get('generation')}: {len(doc['front'])} of "
             f"{doc.get('evaluations')} evaluations on {doc.get('val')}" + (f" ({budget})" if budget else ""))
    table = Table(title=title, title_justify="left")
    latency = any("latency_predicted_ms" in m for m in doc["front"])
    rungs = any("rung" in m for m in doc["front"])
    columns = [("K", "right"), ("PSNR", "right"), ("SSIM", "right"), ("mult-adds", "right"),
               ("params", "right")]
    columns += [("predicted ms", "right"), ("measured ms", "right")] if latency else []
    columns += [("rung (steps)", "right"), ("raw PSNR", "right")] if rungs else []
    for name, justify in [*columns, ("architecture", "left")]:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for k, m in enumerate(doc["front"]):
        ssim = m.get("ssim")
        cells = [str(k), f"{m['psnr']:.4f}", "-" if ssim is None else f"{ssim:.5f}",
                 format_count(m["mult_adds"]), format_count(m["params"])]
        if latency:
            cells += [_fmt(m.get("latency_predicted_ms"), 1), _fmt(m.get("latency_measured_ms"), 1)]
        if rungs:
            raw = (m.get("rung_psnr") or [None])[-1]
            cells += [f"{m['rung']} ({m['steps']})" if "rung" in m else "-", _fmt(raw, 4)]
        table.add_row(*cells, m.get("text", ""))
    return table


def rungs_table(doc: dict[str, Any]) -> Any:
    """Successive halving in pareto.json: per generation, the candidates trained at each rung."""
    f = doc["fidelity"]
    title = (f"successive halving: rungs of {', '.join(map(str, f['rungs']))} steps, the best "
             f"{f['promote']:.2g} of a rung promoted (PSNR of the front on the top rung's scale)")
    table = Table(title=title, title_justify="left")
    table.add_column("gen", justify="right")
    for r, steps in enumerate(f["rungs"]):
        table.add_column(f"rung {r}\n{steps} steps", justify="right")
    for g in f["generations"]:
        table.add_row(str(g["generation"]), *(str(n) for n in g["trained"]))
    return table


def run_summary_table(summary: dict[str, Any]) -> Any:
    """One screen: what was trained, how fast, how well, and where everything is."""
    def dur(seconds: float) -> str:
        m, s = divmod(int(round(seconds)), 60)
        h, m = divmod(m, 60)
        return f"{h}:{m:02d}:{s:02d}"

    t = Table(title=f"training run {summary['out']}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("architecture", f"{summary['arch']} ({summary['arch_hash']})")
    steps = f"{summary['steps']}"
    if summary.get("resumed_from") is not None:
        steps += f" (resumed at {summary['resumed_from']})"
    t.add_row("steps", steps)
    rate = summary.get("steps_per_s")
    t.add_row("time", dur(summary["train_seconds"]) + (f", {rate:.2f} steps/s" if rate else ""))
    t.add_row("devices / precision", f"{summary['devices']} / {summary['precision']}")
    if summary.get("final_loss") is not None:
        t.add_row("loss (L1, last log interval)", f"{summary['final_loss']:.5f}")
    if summary.get("last_val"):
        v = summary["last_val"]
        t.add_row("last validation", f"{v['psnr']:.3f} dB / {v['ssim']:.4f} at step {v['step']}")
    if summary.get("best"):
        b = summary["best"]
        t.add_row("best validation", f"{b['psnr']:.3f} dB / {b['ssim']:.4f} at step {b['step']}")
    t.add_row("model", f"{summary['model']} (step {summary['weights_from_step']})")
    if summary.get("last_checkpoint"):
        t.add_row("last checkpoint", summary["last_checkpoint"])
    out = Path(summary["out"])
    t.add_row("metrics", f"{out / METRICS}, TensorBoard: {out / TENSORBOARD}")
    for note in summary.get("notes") or []:
        t.add_row("note", note)
    return t


class GenerationRows:
    """The per-generation table: a header once, then one aligned row per generation."""

    COLUMNS = (("gen", 4), ("evaluations\ntrained/skip/fail", 17), ("feasible", 8), ("front", 5),
               ("hypervolume", 11), ("best PSNR\n≤ budget", 10), ("elapsed", 8))
    RUNGS = ("trained\nper rung", 12)  # successive halving's column

    def __init__(self, console: Any):
        self.console = console
        self.header_done = False

    def print(self, h: dict) -> None:
        table = Table(box=None, show_header=not self.header_done, header_style="bold", pad_edge=False)
        columns = (*self.COLUMNS, self.RUNGS) if "rungs" in h else self.COLUMNS
        for name, width in columns:
            table.add_column(name, justify="right", width=width, no_wrap=True)
        best = "-" if h["best_psnr"] is None else f"{h['best_psnr']:.3f} dB"
        cells = [str(h["generation"]), f"{h['trained'] - h['failed']}/{h['skipped']}/{h['failed']}",
                 str(h["feasible"]), str(h["front"]), f"{h['hypervolume']:.4g}", best, clock(h["elapsed"])]
        if "rungs" in h:
            cells.append("→".join(map(str, h["rungs"])))
        table.add_row(*cells)
        self.console.print(table)
        self.header_done = True


def model_table(entries: Sequence[Any]) -> Any:
    """`falsr model list`: name, kind, present, what it is, where."""
    table = Table(title="models (a name works wherever a MODEL is accepted)")
    for col in ("name", "kind", "present", "description", "path"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(e.name, e.kind, "yes" if e.present else "no", e.description, str(e.path))
    return table


def latency_table(results: Sequence[dict[str, Any]]) -> Any:
    """`falsr latency`: measured median/p90, the latency model's prediction, the achieved rate."""
    first = results[0] if results else {}
    cpu = (first.get("machine") or {}).get("cpu", "")
    table = Table(title=f"latency on {cpu}" if cpu else "latency")
    for col in ("model", "runtime", "threads", "input", "median ms", "p90 ms", "predicted ms", "GMAC/s"):
        table.add_column(col, justify="left" if col in ("model", "runtime") else "right")
    for r in results:
        table.add_row(str(r["model"]), r["runtime"], str(r["threads"]), "x".join(map(str, r["input"])),
                      _fmt(r["median_ms"], 1), _fmt(r["p90_ms"], 1), _fmt(r.get("predicted_ms"), 1),
                      _fmt(r.get("gmacs_per_second"), 1))
    return table
