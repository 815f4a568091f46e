"""`falsr model`: the published and shipped models by name — list, fetch, locate; model cards and results."""

from __future__ import annotations

import json

import click

_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="Local data folder, where published models are cached (default: env FALSR_DATA, else ./dataset).",
)


@click.group("model")
def model_group() -> None:
    """List, fetch and locate models by name: the authors' FALSR-A/B/C and the ones falsr ships; model
    cards and the README's results.

    A model's name works wherever a MODEL is accepted (evaluate, calculate, upscale, export).

    \b
    Examples:
      falsr model list
      falsr model download FALSR-A
      falsr model download FALSR-A FALSR-B FALSR-C --to ./pretrained_model
      falsr model path t291-FALSR-B-res
      falsr model card runs/FALSR-B pretrained_model/t291-FALSR-B.pb pretrained_model/t291-FALSR-B.json
      falsr model results --readme README.md --plot pretrained_model/pareto.png
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
    from falsr_cli.console import byte_progress, console
    from falsr_cli.runtime.zoo import copy_model, download_model, get_model

    for name in names:
        get_model(name, data_dir)  # every name known before anything is fetched
    for name in names:
        with byte_progress() as report:
            path = download_model(name, data_dir=data_dir, mirror=mirror, force=force, progress=report)
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


_datasets_option = click.option("--dataset", "datasets", multiple=True, metavar="NAME",
                                help="Data set to score on (repeatable) [Set5, Set14].")


@model_group.command("card")
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("pb", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@_datasets_option
@_data_dir_option
@click.option("--name", default=None, help="The architecture's name in the card [the run's --arch].")
@click.option("--search", default=None, metavar="DIR",
              help="The search that found the architecture: its config, journal and front are copied beside "
                   "the card as provenance.")
def model_card(run: str, pb: str, out: str, datasets: tuple[str, ...], data_dir: str | None, name: str | None,
               search: str | None) -> None:
    """Write the model card of PB (exported from the training RUN) to OUT: training facts, machine, scores
    by the paper's protocol, the paper's own figures.

    \b
    Example:
      falsr model card runs/FALSR-B pretrained_model/t291-FALSR-B.pb pretrained_model/t291-FALSR-B.json
    """
    from falsr_cli.reports.model_card import write_model_card

    card = write_model_card(run, pb, out, datasets or ("Set5", "Set14"), data_dir, name=name, search=search)
    click.echo(json.dumps(card["scores"]))


@model_group.command("results")
@click.option("--readme", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The README whose results table (between its markers) is rewritten.")
@click.option("--model-dir", default="pretrained_model", show_default=True, type=click.Path(file_okay=False),
              help="The model cards' folder.")
@click.option("--published", default=None, metavar="DIR",
              help="A folder holding the authors' FALSR-{A,B,C}.pb, evaluated now for their rows.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="Also draw PSNR against mult-adds of the cards' models to this PNG.")
@_datasets_option
@_data_dir_option
def model_results(readme: str, model_dir: str, published: str | None, plot: str | None,
                  datasets: tuple[str, ...], data_dir: str | None) -> None:
    """Rewrite the README's results table (and plot) from the model cards, with bicubic evaluated now.

    \b
    Example:
      falsr model results --readme README.md --plot pretrained_model/pareto.png
    """
    from falsr_cli.data.reference import published_figures
    from falsr_cli.reports.model_card import (
        bicubic_scores,
        load_cards,
        plot_results,
        published_graphs,
        results_table,
        update_readme,
    )

    datasets = datasets or ("Set5", "Set14")
    cards = load_cards(model_dir)
    bicubic = bicubic_scores(datasets, data_dir)
    table = results_table(published_graphs(datasets, data_dir, published) + cards, bicubic, datasets,
                          model_dir=model_dir)
    update_readme(readme, table)
    click.echo(table)
    if plot:
        plot_results(plot, cards, bicubic, published_figures(), dataset=datasets[0])
        click.echo(f"plot: {plot}")
