"""`falsr demo`: the whole product on built-in data."""

from __future__ import annotations

import click

from falsr_cli.demo import TRAIN_STEPS as DEMO_TRAIN_STEPS
from falsr_cli.paths import DEFAULT_MODEL


@click.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False), default="demo_out", show_default=True,
              help="Folder for everything the demo writes.")
@click.option("--train-steps", type=click.IntRange(1), default=DEMO_TRAIN_STEPS, show_default=True,
              help="Training steps for the searched network.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data folder [env FALSR_DATA, ./dataset].")
def demo_cmd(out: str, train_steps: int, data_dir: str | None) -> None:
    """Search, train, export and evaluate on the built-in `samples` images: offline, a few minutes.

    \b
    Example:
      falsr demo --out demo_out
    """
    from rich.table import Table

    from falsr_cli.console import console, progress
    from falsr_cli.demo import run_demo

    summary = run_demo(out, train_steps=train_steps, data_dir=data_dir, say=console.print, progress=progress)
    table = Table(title="x2 on samples (Y, BT.601, border 2)")
    for col in ("model", "PSNR (dB)", "SSIM", "images/s"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in summary["evaluation"]:
        table.add_row(r["model"], f"{r['psnr']:.4f}", f"{r['ssim']:.5f}", f"{r['images_per_second']:.1f}")
    console.print(table)
    gain = summary["searched_minus_bicubic_db"]
    verdict = "beats" if gain > 0 else "does not beat"
    console.print(f"The searched network {verdict} bicubic: {gain:+.2f} dB on `samples` — the images it was "
                  "searched and trained on, so this checks that the pipeline learns; it is not a benchmark.")
    if summary["pretrained"] is None:
        console.print(f"(no {DEFAULT_MODEL} here, so it is not in the table)")
    console.print(f"Done in {summary['seconds']:.0f} s. Files in {out}/:")
    console.print(f"  search/pareto.json, pareto.png  the Pareto front   (falsr search show {out}/search)")
    console.print(f"  train/                          the trained network (falsr evaluate -m {out}/train)")
    console.print("  demo-best.pb                    its frozen graph with the FALSR interface")
    console.print("  demo.json                       every figure above")
    console.print(f"Next: falsr calculate --pb_path {out}/demo-best.pb --save_path ./result/")
    console.print("  or  falsr search --flops-max 100G --out runs/s1   (it prints its time estimate first)")
