"""`falsr evaluate` and `falsr calculate`: scores by the paper's protocol."""

from __future__ import annotations

import json

import click


def _evaluation_notes(notes: list[str]) -> None:
    from falsr_cli.console import console

    if notes:
        console.print(f"converted inputs ({len(notes)}): " + "; ".join(notes))


@click.command("evaluate")
@click.option("--dataset", "-d", required=True, metavar="NAME|FOLDER",
              help="Registered data set (Set5, Set14, B100, Urban100, samples, …) or a folder of "
                   "img_NNN_SRF_2_{LR,HR}.png pairs or of HR images only.")
@click.option("--model", "-m", required=True, metavar="MODEL",
              help="'bicubic', a FALSR-interface .pb, a .tflite file, or a training-run folder.")
@click.option("--scale", type=click.IntRange(1, 8), default=2, show_default=True, help="Upscaling factor.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Also write the results as JSON to this file; '-' prints them instead of the tables.")
@click.option("--save", "save_dir", type=click.Path(file_okay=False), help="Save SR images in this folder.")
@click.option("--per-image", is_flag=True, help="Print one row per image.")
@click.option("--no-download", is_flag=True, help="Fail instead of fetching a data set not present locally.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
@click.option("--overwrite", is_flag=True, help="Replace an existing --json file and SR images in --save.")
@click.option("--engine", type=click.Choice(["auto", "tf", "xnnpack", "xnnpack-int8"]), default="auto",
              show_default=True,
              help="Run the network in TensorFlow or XNNPACK (float32: the same scores to float rounding); "
                   "auto: the faster on this machine; xnnpack-int8: int8 weights and activations in XNNPACK, "
                   "2-3x faster, its score cost shown here.")
def evaluate_cmd(dataset: str, model: str, scale: int, json_path: str | None, save_dir: str | None,
                 per_image: bool, no_download: bool, data_dir: str | None, overwrite: bool,
                 engine: str) -> None:
    """Score a model on a data set: average PSNR/SSIM (Y, BT.601, border = scale), images/s, time.

    \b
    Examples:
      falsr evaluate --dataset Set5 --model bicubic
      falsr evaluate --dataset Set14 --model FALSR-A --per-image
      falsr evaluate --dataset ./my_photos --model FALSR-B.pb --save ./sr --json scores.json
    """
    from falsr_cli.atomic import write_json
    from falsr_cli.cli.views import per_image_table, summary_table
    from falsr_cli.console import byte_progress, console, progress
    from falsr_cli.data.pairs import dataset_folder
    from falsr_cli.outputs import claim_output, json_kind
    from falsr_cli.runtime.evaluate import evaluate_model, jsonable

    if json_path and json_path != "-":
        claim_output(json_path, overwrite=overwrite, inputs=[model, dataset], flag="--json",
                     sealed=[dataset_folder(dataset, data_dir)], others={"--save": save_dir},
                     same_kind=json_kind("model", "dataset", "psnr"))
    with byte_progress() as on_download:
        result = evaluate_model(model, dataset, scale=scale, data_dir=data_dir, download=not no_download,
                                save_dir=save_dir, per_image=True, overwrite=overwrite, engine=engine,
                                progress=progress, on_download=on_download)
    if json_path == "-":
        if not per_image:
            result.pop("per_image")
        click.echo(json.dumps(jsonable(result), indent=2))
        return
    if per_image:
        console.print(per_image_table(result["per_image"], title=f"{result['model']} on {result['dataset']}"))
    engine_note = f", engine {result['engine']}" if result.get("engine") else ""
    title = f"{result['model']}, x{scale}{engine_note}"
    console.print(summary_table({result["dataset"]: result}, title=title))
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


@click.command("calculate")
@click.option("--pb_path", "--pb-path", "pb_path", required=True, type=click.Path(dir_okay=False),
              help="Frozen graph with the FALSR interface (e.g. ./pretrained_model/FALSR-A.pb), or a model's "
                   "name (falsr model list; the authors' FALSR-A/B/C are fetched on first use).")
@click.option("--save_path", "--save-path", "save_path", default="./result/", show_default=True,
              type=click.Path(file_okay=False), help="Results folder: <save_path>/<pb name>/<data set>/.")
@click.option("--dataset", "-d", "datasets", multiple=True, metavar="NAME|FOLDER",
              help="Data set to run (repeatable). Default: every x2 benchmark present locally, plus samples.")
@click.option("--no-download", is_flag=True, help="Fail instead of fetching a data set not present locally.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of a table.")
def calculate_cmd(pb_path: str, save_path: str, datasets: tuple[str, ...], no_download: bool,
                  data_dir: str | None, as_json: bool) -> None:
    """Run a FALSR frozen graph over data sets as the original calculate.py: SR images, PSNR/SSIM table.

    With --json the figures are printed as JSON instead of the table.
    Saves <save_path>/<pb name>/<data set>/img_NNN_SRF_2_SR.png and <save_path>/<pb name>/metrics.json
    (merged with the data sets of earlier runs).

    \b
    Examples:
      falsr model download FALSR-A --to ./pretrained_model
      falsr calculate --pb_path ./pretrained_model/FALSR-A.pb --save_path ./result/
      falsr calculate --pb_path FALSR-B --save_path ./result/ --dataset Set5 --dataset Urban100
    """
    from falsr_cli.cli.views import summary_table
    from falsr_cli.console import byte_progress, console, progress
    from falsr_cli.runtime.evaluate import calculate

    with byte_progress() as on_download:
        summary = calculate(pb_path, save_path, list(datasets) or None, data_dir=data_dir,
                            download=not no_download, progress=progress, on_download=on_download)
    if as_json:
        from falsr_cli.runtime.evaluate import jsonable

        click.echo(json.dumps(jsonable(summary), indent=2))
        return
    console.print(summary_table(summary["datasets"], title=f"{summary['model']}, x{summary['scale']}"))
    _evaluation_notes([n for e in summary["datasets"].values() for n in e["notes"]])
    console.print(f"SR images in {summary['save_dir']}, figures in {summary['metrics_path']} "
                  f"(total {summary['total_seconds']:.1f} s)")
