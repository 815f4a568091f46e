"""The `falsr` command line: a thin layer of click commands over the Python API.

Each command parses options, calls the API, and prints. Every FalsrError (and any other failure of the
user's input) becomes a one-line `error: …` and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

from falsr_cli import __version__  # noqa: E402
from falsr_cli.errors import FalsrError  # noqa: E402


class FalsrGroup(click.Group):
    """A click group that turns expected failures into one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FalsrError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as e:
            click.echo(f"error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", err=True)
            sys.exit(1)


@click.group(
    cls=FalsrGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="falsr")
def main() -> None:
    """Find, train, evaluate and ship fast, accurate and lightweight super-resolution networks.

    \b
    Examples:
      falsr calculate --pb_path ./pretrained_model/FALSR-A.pb --save_path ./result/
      falsr evaluate --dataset Set5 --model bicubic
      falsr arch show FALSR-A
      falsr search --preset demo --out runs/demo
    """


# ---- commands are added below, one section per area --------------------------------------------

# ---- [data] dataset list/download/verify/path --------------------------------------------------
_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Local data folder (default: env FALSR_DATA, else ./dataset).",
)


@main.group()
def dataset() -> None:
    """List, fetch, check and locate the data sets.

    \b
    Examples:
      falsr dataset list
      falsr dataset download Set14
      FALSR_DATA_MIRROR=/mnt/datasets falsr dataset download B100
      falsr dataset verify Set5
      falsr dataset path samples
    """


@dataset.command("list")
@_data_dir_option
def dataset_list(data_dir: str | None) -> None:
    """Show every registered data set and whether it is present locally.

    \b
    Example:
      falsr dataset list --data-dir ~/sr-data
    """
    from rich.table import Table

    from falsr_cli.console import console
    from falsr_cli.data import registry
    from falsr_cli.paths import data_dir as resolve_data_dir

    table = Table(title=f"data sets (local folder: {resolve_data_dir(data_dir)})")
    for col in ("name", "kind", "images", "local", "source"):
        table.add_column(col, justify="right" if col == "images" else "left", overflow="fold")
    for ds in registry.list_datasets():
        present = registry.is_present(ds.name, data_dir)
        table.add_row(ds.name, ds.kind, str(ds.images), "yes" if present else "no", ds.source_text)
    console.print(table)


@dataset.command("download")
@click.argument("name")
@_data_dir_option
@click.option(
    "--mirror", default=None, help="Folder or URL laid out <NAME>/<file> (default: env FALSR_DATA_MIRROR)."
)
@click.option("--force", is_flag=True, help="Fetch every file again, even those present and verified.")
def dataset_download(name: str, data_dir: str | None, mirror: str | None, force: bool) -> None:
    """Fetch a data set (resumable; every file checked by sha256 before it is kept).

    \b
    Examples:
      falsr dataset download Set5
      falsr dataset download DIV2K --data-dir /data/sr
    """
    from falsr_cli.console import console
    from falsr_cli.data import registry

    folder = registry.download(name, data_dir=data_dir, mirror=mirror, force=force)
    report = registry.verify(name, data_dir=data_dir, full=False)
    console.print(f"{registry.get_dataset(name).name}: {len(report.ok)} files in {folder}")


@dataset.command("verify")
@click.argument("name")
@_data_dir_option
def dataset_verify(name: str, data_dir: str | None) -> None:
    """Check every file of a local data set (size and sha256); exit 1 if any is missing or bad.

    \b
    Example:
      falsr dataset verify Set14
    """
    from falsr_cli.console import console
    from falsr_cli.data import registry

    report = registry.verify(name, data_dir=data_dir, full=True)
    if report.ok or report.bad:  # a set never downloaded is summed up in the error alone
        for fname in report.missing:
            console.print(f"missing  {fname}")
    for fname, reason in report.bad:
        console.print(f"bad      {fname}: {reason}")
    total = len(report.ok) + len(report.missing) + len(report.bad)
    if not report.complete:
        raise FalsrError(
            f"{report.name}: {len(report.missing)} missing and {len(report.bad)} bad of {total} files in "
            f"{report.folder}; run `falsr dataset download {report.name}`"
        )
    console.print(f"{report.name}: all {total} files OK in {report.folder}")


@dataset.command("path")
@click.argument("name")
@_data_dir_option
def dataset_path(name: str, data_dir: str | None) -> None:
    """Print the local folder of a data set (for scripts: `ls $(falsr dataset path Set5)`).

    \b
    Example:
      falsr dataset path Set5
    """
    from falsr_cli.data import registry
    from falsr_cli.data.samples import ensure_samples

    ds = registry.get_dataset(name)
    if ds.name == registry.SAMPLES:
        click.echo(str(ensure_samples(data_dir)))
    else:
        click.echo(str(registry.dataset_dir(ds.name, data_dir)))


# (end data)

# ---- [evaluation] evaluate, calculate ----------------------------------------------------------
def _evaluation_notes(notes: list[str]) -> None:
    from falsr_cli.console import console

    if notes:
        console.print(f"converted inputs ({len(notes)}): " + "; ".join(notes))


@main.command("evaluate")
@click.option("--dataset", "-d", required=True, metavar="NAME|FOLDER",
              help="Registered data set (Set5, Set14, B100, Urban100, samples, …) or a folder of "
                   "img_NNN_SRF_2_{LR,HR}.png pairs or of HR images only.")
@click.option("--model", "-m", required=True, metavar="MODEL",
              help="'bicubic', a FALSR-interface .pb, a .tflite file, or a training-run folder.")
@click.option("--scale", type=click.IntRange(1, 8), default=2, show_default=True, help="Upscaling factor.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
@click.option("--save", "save_dir", type=click.Path(file_okay=False), help="Save SR images in this folder.")
@click.option("--per-image", is_flag=True, help="Print one row per image.")
@click.option("--no-download", is_flag=True, help="Fail instead of fetching a data set not present locally.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
def evaluate_cmd(dataset: str, model: str, scale: int, json_path: str | None, save_dir: str | None,
                 per_image: bool, no_download: bool, data_dir: str | None) -> None:
    """Score a model on a data set: average PSNR/SSIM (Y, BT.601, border = scale), images/s, time.

    \b
    Examples:
      falsr evaluate --dataset Set5 --model bicubic
      falsr evaluate --dataset Set14 --model ./pretrained_model/FALSR-A.pb --per-image
      falsr evaluate --dataset ./my_photos --model FALSR-B.pb --save ./sr --json scores.json
    """
    from falsr_cli.atomic import write_json
    from falsr_cli.console import console
    from falsr_cli.runtime.evaluate import evaluate_model, jsonable, per_image_table, summary_table

    result = evaluate_model(model, dataset, scale=scale, data_dir=data_dir, download=not no_download,
                            save_dir=save_dir, per_image=True)
    if per_image:
        console.print(per_image_table(result["per_image"], title=f"{result['model']} on {result['dataset']}"))
    console.print(summary_table({result["dataset"]: result}, title=f"{result['model']}, x{scale}"))
    _evaluation_notes(result["notes"])
    console.print(f"{result['images']} images, {result['images_per_second']:.2f} images/s (model), "
                  f"total {result['total_seconds']:.1f} s")
    if save_dir:
        console.print(f"SR images saved in {save_dir}")
    if json_path:
        if not per_image:
            result.pop("per_image")
        write_json(json_path, jsonable(result))
        console.print(f"results written to {json_path}")


@main.command("calculate")
@click.option("--pb_path", "--pb-path", "pb_path", required=True, type=click.Path(dir_okay=False),
              help="Frozen graph with the FALSR interface (e.g. FALSR-A.pb).")
@click.option("--save_path", "--save-path", "save_path", default="./result/", show_default=True,
              type=click.Path(file_okay=False), help="Results folder: <save_path>/<pb name>/<data set>/.")
@click.option("--dataset", "-d", "datasets", multiple=True, metavar="NAME|FOLDER",
              help="Data set to run (repeatable). Default: every x2 benchmark present locally, plus samples.")
@click.option("--no-download", is_flag=True, help="Fail instead of fetching a data set not present locally.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
def calculate_cmd(pb_path: str, save_path: str, datasets: tuple[str, ...], no_download: bool,
                  data_dir: str | None) -> None:
    """Run a FALSR frozen graph over data sets as the original calculate.py: SR images, PSNR/SSIM table.

    Saves <save_path>/<pb name>/<data set>/img_NNN_SRF_2_SR.png and <save_path>/<pb name>/metrics.json
    (merged with the data sets of earlier runs).

    \b
    Examples:
      falsr calculate --pb_path ./pretrained_model/FALSR-A.pb --save_path ./result/
      falsr calculate --pb_path FALSR-B.pb --save_path ./result/ --dataset Set5 --dataset Urban100
    """
    from falsr_cli.console import console
    from falsr_cli.runtime.evaluate import calculate, summary_table

    summary = calculate(pb_path, save_path, list(datasets) or None, data_dir=data_dir,
                        download=not no_download)
    console.print(summary_table(summary["datasets"], title=f"{summary['model']}, x{summary['scale']}"))
    _evaluation_notes([n for e in summary["datasets"].values() for n in e["notes"]])
    console.print(f"SR images in {summary['save_dir']}, figures in {summary['metrics_path']} "
                  f"(total {summary['total_seconds']:.1f} s)")


# (end evaluation)

# ---- [architecture] arch show/from-pb, flops ---------------------------------------------------
# (end architecture)

# ---- [train] train -----------------------------------------------------------------------------
# (end train)

# ---- [search] search, search show --------------------------------------------------------------
# (end search)

# ---- [export] export, upscale ------------------------------------------------------------------
# (end export)
