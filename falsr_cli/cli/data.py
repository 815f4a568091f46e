"""`falsr dataset`: list, fetch, check and locate the data sets."""

from __future__ import annotations

import click

from falsr_cli.errors import FalsrError

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Local data folder (default: env FALSR_DATA, else ./dataset).",
)


@click.group()
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def dataset_list(data_dir: str | None, as_json: bool) -> None:
    """Show every registered data set and whether it is present locally.

    \b
    Example:
      falsr dataset list --data-dir ~/sr-data
    """
    from rich.table import Table

    from falsr_cli.console import console
    from falsr_cli.data import registry
    from falsr_cli.paths import data_dir as resolve_data_dir

    if as_json:
        import json

        rows = [{"name": ds.name, "kind": ds.kind, "images": ds.images,
                 "local": registry.is_present(ds.name, data_dir), "source": ds.source_text,
                 "split_of": ds.parent} for ds in registry.list_datasets()]
        click.echo(json.dumps({"data_dir": str(resolve_data_dir(data_dir)), "datasets": rows}, indent=2))
        return
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
    from falsr_cli.console import byte_progress, console
    from falsr_cli.data import registry

    with byte_progress() as report:
        folder = registry.download(name, data_dir=data_dir, mirror=mirror, force=force, progress=report)
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
