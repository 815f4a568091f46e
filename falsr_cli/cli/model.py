"""`falsr model`: the published and shipped models by name — list, fetch, locate."""

from __future__ import annotations

import json

import click

_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="Local data folder, where published models are cached (default: env FALSR_DATA, else ./dataset).",
)


@click.group("model")
def model_group() -> None:
    """List, fetch and locate models by name: the authors' FALSR-A/B/C and the ones falsr ships.

    A model's name works wherever a MODEL is accepted (evaluate, calculate, upscale, export).

    \b
    Examples:
      falsr model list
      falsr model download FALSR-A
      falsr model download FALSR-A FALSR-B FALSR-C --to ./pretrained_model
      falsr model path t291-FALSR-B-res
    """


@model_group.command("list")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def model_list(data_dir: str | None, as_json: bool) -> None:
    """Show every model known by name, where it is and whether it is present.

    \b
    Example:
      falsr model list --json
    """
    from falsr_cli.runtime.zoo import list_models

    entries = list_models(data_dir)
    if as_json:
        click.echo(json.dumps({"models": [e.to_dict() for e in entries]}, indent=2))
        return
    from falsr_cli.cli.views import model_table
    from falsr_cli.console import console

    console.print(model_table(entries))


@model_group.command("download")
@click.argument("names", nargs=-1, required=True)
@_data_dir_option
@click.option("--mirror", default=None,
              help="Folder or URL laid out <NAME>/<file>, or a folder holding the .pb files (e.g. a clone's "
                   "pretrained_model/) (default: env FALSR_DATA_MIRROR).")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="Also copy each .pb into this folder (e.g. ./pretrained_model, as the authors' README "
                   "has it).")
@click.option("--overwrite", is_flag=True,
              help="With --to: replace another published graph of the same name there (never a user's file).")
@click.option("--force", is_flag=True, help="Fetch again, even when present and verified.")
def model_download(names: tuple[str, ...], data_dir: str | None, mirror: str | None, to: str | None,
                   overwrite: bool, force: bool) -> None:
    """Fetch published models (resumable; size and sha256 checked before a file is kept).

    \b
    Examples:
      falsr model download FALSR-A
      falsr model download FALSR-A FALSR-B FALSR-C --to ./pretrained_model
    """
    from falsr_cli.console import console
    from falsr_cli.runtime.zoo import copy_model, download_model, get_model

    for name in names:
        get_model(name, data_dir)  # every name known before anything is fetched
    for name in names:
        path = download_model(name, data_dir=data_dir, mirror=mirror, force=force)
        line = f"{get_model(name, data_dir).name}: {path}"
        if to:
            line += f" → {copy_model(name, to, data_dir, overwrite=overwrite)}"
        console.print(line)


@model_group.command("path")
@click.argument("name")
@_data_dir_option
def model_path(name: str, data_dir: str | None) -> None:
    """Print the .pb of a model (for scripts); exit 1 if it is not present.

    \b
    Example:
      falsr evaluate --dataset Set5 --model $(falsr model path FALSR-B)
    """
    from falsr_cli.errors import FalsrError
    from falsr_cli.runtime.zoo import get_model

    entry = get_model(name, data_dir)
    if not entry.present:
        raise FalsrError(f"{entry.name} is not downloaded ({entry.path}); "
                         f"run `falsr model download {entry.name}`")
    click.echo(str(entry.path))
