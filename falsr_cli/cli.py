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
from falsr_cli.demo import TRAIN_STEPS as DEMO_TRAIN_STEPS  # noqa: E402
from falsr_cli.errors import FalsrError  # noqa: E402
from falsr_cli.search.config import SearchConfig  # noqa: E402
from falsr_cli.train.config import TrainConfig  # noqa: E402


class FalsrGroup(click.Group):
    """A click group that turns expected failures into one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            # One line, not click's three: the message and where to read more.
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            click.echo(f"error: {e.format_message()}{where}", err=True)
            sys.exit(e.exit_code)
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
def _arch_table(summary: dict):
    from rich.table import Table

    from falsr_cli.space.summary import human

    title = summary.get("name") or summary["hash"]
    table = Table(title=f"{title}: x{summary['scale']}, {summary['n']} cells, features {summary['features']}"
                  " (mult-adds at 480x480 LR)")
    for col, justify, no_wrap in (("node", "left", True), ("cell", "left", True), ("sources", "left", False),
                                  ("in ch", "right", True), ("params", "right", True),
                                  ("mult-adds", "right", True)):
        # Sources fold onto more lines in a narrow terminal rather than vanish.
        table.add_column(col, justify=justify, no_wrap=no_wrap, min_width=None if no_wrap else 9,
                         overflow="fold")
    for row in summary["nodes"]:
        table.add_row(row["node"], row["cell"], ",".join(row["sources"]), str(row["in_channels"]),
                      f"{row['params']:,}", human(row["mult_adds_480x480"]))
    return table


@main.group("arch")
def arch_group() -> None:
    """Inspect architectures: presets (FALSR-A/B/C), arch .json files, pareto.json#K, published .pb graphs.

    \b
    Examples:
      falsr arch show FALSR-A
      falsr arch show runs/demo/pareto.json#0 --input 720x1280
      falsr arch from-pb ./pretrained_model/FALSR-C.pb -o falsr-c.json
    """


@arch_group.command("show")
@click.argument("spec", metavar="NAME|FILE")
@click.option("--input", "input_hw", metavar="HxW", help="Also count mult-adds for this LR input size.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
def arch_show_cmd(spec: str, input_hw: str | None, as_json: bool) -> None:
    """Cells, their sources, parameters and mult-adds (at 480x480 and at --input) of an architecture.

    \b
    SPEC is a preset (FALSR-A, FALSR-B, FALSR-C), an architecture .json, pareto.json#K or a .pb graph.
    \b
    Examples:
      falsr arch show FALSR-B
      falsr arch show arch.json --input 360x640
      falsr arch show FALSR-A --json > falsr-a-summary.json
    """
    import json

    from falsr_cli.console import console
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.space.summary import human, parse_hw, summarize

    hw = parse_hw(input_hw) if input_hw else None
    if spec.lower().endswith(".pb"):
        from falsr_cli.space.pb_import import architecture_from_pb

        arch = architecture_from_pb(spec)
    else:
        arch = load_architecture(spec)
    summary = summarize(arch, hw, name=spec)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    console.print(_arch_table(summary))
    console.print(f"params {summary['params']:,} ({human(summary['params'])})")
    for size, macs in summary["mult_adds"].items():
        console.print(f"mult-adds at {size} (LR, x{arch.scale}): {macs:,} ({human(macs)})")
    console.print(f"receptive field: ±{summary['receptive_field_lr']} LR pixels")
    console.print(f"text: {summary['text']}")


@arch_group.command("from-pb")
@click.argument("pb", metavar="FILE.pb", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the architecture JSON here "
              "(default: print it).")
def arch_from_pb_cmd(pb: str, output: str | None) -> None:
    """Recover the architecture of a published FALSR graph from its nodes and topology.

    \b
    Examples:
      falsr arch from-pb ./pretrained_model/FALSR-A.pb -o falsr-a.json
      falsr arch from-pb FALSR-B.pb | jq .cells
    """
    from falsr_cli.console import err_console
    from falsr_cli.space.pb_import import architecture_from_pb

    arch = architecture_from_pb(pb)
    if output:
        arch.save(output)
        err_console.print(f"{pb}: {arch.n} cells, x{arch.scale} → {output}")
    else:
        click.echo(arch.to_json(), nl=False)


@main.command("flops")
@click.argument("spec", metavar="NAME|FILE")
@click.option("--input", "input_hw", default="480x480", show_default=True, metavar="HxW",
              help="LR input size (HxW).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def flops_cmd(spec: str, input_hw: str, as_json: bool) -> None:
    """Mult-adds (multiply-accumulates) and parameters of an architecture for one LR input.

    \b
    Convs count at LR size except the last (HR); bias adds, ReLUs, adds and concats are not counted.
    \b
    Examples:
      falsr flops FALSR-A
      falsr flops arch.json --input 720x1280
      falsr flops runs/demo/pareto.json#2 --json
    """
    import json

    from falsr_cli.cost.cost_model import mult_adds, params
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.space.summary import human, hw_text, parse_hw

    hw = parse_hw(input_hw)
    if spec.lower().endswith(".pb"):
        from falsr_cli.space.pb_import import architecture_from_pb

        arch = architecture_from_pb(spec)
    else:
        arch = load_architecture(spec)
    macs, n_params = mult_adds(arch, hw), params(arch)
    if as_json:
        click.echo(json.dumps({"name": spec, "input": hw_text(hw), "scale": arch.scale, "mult_adds": macs,
                               "params": n_params, "hash": arch.hash()}, indent=2))
        return
    click.echo(f"{spec}: {macs:,} mult-adds ({human(macs)}) at {hw_text(hw)} LR, x{arch.scale}; "
               f"{n_params:,} params ({human(n_params)})")


# (end architecture)

_TRAIN = TrainConfig()

# ---- [train] train -----------------------------------------------------------------------------
@main.command("train")
@click.option("--arch", required=True, metavar="SPEC",
              help="FALSR-A|FALSR-B|FALSR-C, an architecture .json, or a search result pareto.json#K.")
@click.option("--data", default=_TRAIN.data, show_default=True, metavar="SETS|FOLDER",
              help="Training images: registered sets (comma-separated; fetched or mirrored if absent), "
                   "a folder of HR images (LR made once by MATLAB bicubic and cached) or of "
                   "img_NNN_SRF_2_{LR,HR} pairs.")
@click.option("--val", default=_TRAIN.val, show_default=True, metavar="SET|FOLDER|none",
              help="Validation images held out of training (they pick the best checkpoint), scored as the "
                   "paper (full images, luma, border = scale); 'none' to skip. Keep benchmarks for testing.")
@click.option("--steps", type=click.IntRange(1), default=_TRAIN.steps, show_default=True,
              help="Training steps (updates).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder. Re-running the same command on it resumes from its last checkpoint.")
@click.option("--batch", type=click.IntRange(1), default=_TRAIN.batch, show_default=True,
              help="Patches per step (paper: 16).")
@click.option("--patch", type=click.IntRange(2), default=_TRAIN.patch, show_default=True,
              help="HR patch size (LR patch = patch / scale; paper: 96). Images smaller than a patch are "
                   "left out, with a note.")
@click.option("--lr", type=float, default=_TRAIN.lr, show_default=True,
              help="Adam peak learning rate (paper: 1e-4 constant).")
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True, help="Upscaling factor.")
@click.option("--schedule", type=click.Choice(["constant", "step", "cosine"]), default=_TRAIN.schedule,
              show_default=True, help="Learning-rate schedule after the warm-up.")
@click.option("--warmup", type=click.IntRange(0), default=None,
              help="Linear warm-up steps from lr/warmup to lr [100, or a tenth of a shorter run].")
@click.option("--decay-every", type=click.IntRange(0), default=0, show_default=True,
              help="step schedule: multiply the rate by --decay-gamma every this many steps (0: steps/2).")
@click.option("--decay-gamma", type=float, default=0.5, show_default=True, help="step schedule factor.")
@click.option("--min-lr", type=float, default=0.0, show_default=True, help="cosine schedule: final rate.")
@click.option("--init", type=click.Choice(["he", "normal"]), default=_TRAIN.init, show_default=True,
              help="Initial weights: he (He-normal, output conv near zero) or normal (paper: N(0, 0.02)).")
@click.option("--augment/--no-augment", default=True, show_default=True,
              help="Random flips and 90° rotations.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of the initial weights and of the data order (crops, flips).")
@click.option("--val-every", type=click.IntRange(1), default=1000, show_default=True,
              help="Validate every N steps.")
@click.option("--ckpt-every", type=click.IntRange(1), default=1000, show_default=True,
              help="Checkpoint every N steps (also whenever validation PSNR improves).")
@click.option("--keep", type=click.IntRange(1), default=3, show_default=True,
              help="Checkpoints kept: the last N, plus the best by validation PSNR.")
@click.option("--log-every", type=click.IntRange(1), default=10, show_default=True,
              help="Write a metrics.jsonl record every N steps.")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "bfloat16"]), default="float32",
              show_default=True, help="Compute precision (mixed_float16 adds dynamic loss scaling).")
@click.option("--jit", is_flag=True, help="Compile the training step with XLA.")
@click.option("--devices", default="auto", show_default=True, metavar="auto|DEV,DEV",
              help="'auto': all visible GPUs (mirrored), else one device; or a list such as /gpu:0,/gpu:1.")
@click.option("--resume", is_flag=True, help="Require an existing run in --out and continue it.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train_cmd(arch: str, data: str, val: str, steps: int, out: str, batch: int, patch: int, lr: float,
              scale: int, schedule: str, warmup: int | None, decay_every: int, decay_gamma: float,
              min_lr: float, init: str, augment: bool, seed: int, val_every: int, ckpt_every: int,
              keep: int, log_every: int, precision: str, jit: bool, devices: str, resume: bool,
              data_dir: str | None, quiet: bool) -> None:
    """Train an architecture on luma (Adam, L1 loss), validating on held-out images and checkpointing.

    The defaults are a recipe measured to converge fast on a CPU (benchmarks/convergence.py); the image-level
    residual is part of the architecture (e.g. --arch FALSR-B-res, or `-res` in an architecture's text).

    Writes to --out: config.json, arch.json, checkpoints/ (last --keep and the best), metrics.jsonl,
    tensorboard/ and model.keras (best weights). Killed at any moment, the same command continues
    from the last checkpoint and ends with the same weights as an uninterrupted run.

    \b
    Examples:
      falsr train --arch FALSR-B-res --steps 5000 --out runs/b
      falsr train --arch runs/search/pareto.json#3 --data ./hr_photos --out runs/p3 --schedule cosine
      falsr train --arch FALSR-A --data DIV2K --out runs/a --precision mixed_float16 --jit
      falsr evaluate --dataset Set14 --model runs/b
    """
    from falsr_cli.console import console
    from falsr_cli.train import TrainConfig, train
    from falsr_cli.train.runs import summary_table

    config = TrainConfig(
        arch=arch, data=data, val=None if val.lower() == "none" else val, steps=steps, out=out, batch=batch,
        patch=patch, lr=lr, scale=scale, schedule=schedule, warmup=warmup, decay_every=decay_every,
        decay_gamma=decay_gamma, min_lr=min_lr, init=init, augment=augment, seed=seed, val_every=val_every,
        ckpt_every=ckpt_every, keep=keep, log_every=log_every, precision=precision, jit=jit, devices=devices,
        data_dir=data_dir, resume=resume, progress=not quiet,
    )
    console.print(summary_table(train(config)))


# (end train)

# ---- [search] search, search show --------------------------------------------------------------
# Every search option defaults to None here so that --preset and --config can fill it; flags win. The help
# shows SearchConfig's defaults.
_SEARCH = SearchConfig()
_SEARCH_OPTIONS = [
    click.option("--out", type=click.Path(file_okay=False),
                 help="Run folder (required to search). Re-running the same command on it continues the "
                      "search after any interruption."),
    click.option("--preset", type=click.Choice(["demo", "paper"]),
                 help="demo: n 3, population 6, 3 generations, 20 steps on 32-px patches of the built-in "
                      "samples, in this process (under 3 minutes on 2 CPU cores); paper: n 7, population 64, "
                      "160 generations, batch 16, Adam 1e-4."),
    click.option("--config", "config_file", type=click.Path(dir_okay=False),
                 help="TOML file of options (keys as the long flags, - or _; optionally under [search])."),
    click.option("--resume", is_flag=True,
                 help="Continue the search in --out with its saved options; flags may change only how it "
                      "runs (workers, scheduler, generations, max-evals)."),
    click.option("--flops-max", metavar="COUNT",
                 help="Mult-adds budget at 480×480 LR, e.g. 100G, 5e10, 1.5T; candidates above it are never "
                      "trained."),
    click.option("--psnr-min", type=float, help="Constraint: PSNR (dB) on --val at least this."),
    click.option("--params-max", metavar="COUNT", help="Constraint: parameters at most this, e.g. 1M, 300k."),
    click.option("--objective", type=click.Choice(["psnr", "mse"]),
                 help="First objective: −PSNR or MSE [psnr]."),
    click.option("--cells", "--n", "n", type=click.IntRange(1, 12), help="Cells per network n [7]."),
    click.option("--scale", type=click.IntRange(2, 4), help="Upscaling factor [2]."),
    click.option("--pop", type=click.IntRange(2), help="Population size [64, the paper's]."),
    click.option("--generations", type=click.IntRange(1),
                 help="Generations, the first being the initial population [10]."),
    click.option("--max-evals", type=click.IntRange(1),
                 help="Stop after the generation that reaches this many trained candidates."),
    click.option("--seed", type=click.IntRange(0), help="Seed of the whole search [0]."),
    click.option("--crowding", type=click.Choice(["chu-yu", "pymoo"]),
                 help="Crowding distance: Chu & Yu's improved one, or NSGA-II's (pymoo) [chu-yu]."),
    click.option("--p-random-conn", type=click.FloatRange(0, 1),
                 help="Initial population: share with random connections [0.5]."),
    click.option("--p-dense-conn", type=click.FloatRange(0, 1),
                 help="Initial population: share densely connected [0.25]; the rest have none."),
    click.option("--p-exploit", type=click.FloatRange(0, 1),
                 help="Mutation: probability of the RL controller's proposal (exploitation) [0.2]; else "
                      "exploration."),
    click.option("--p-exploit-end", type=click.FloatRange(0, 1),
                 help="Anneal --p-exploit linearly to this by the last generation."),
    click.option("--w-random", type=click.FloatRange(0), help="Exploration weight of random mutation [1]."),
    click.option("--w-rws-flops", type=click.FloatRange(0),
                 help="Exploration weight of roulette-wheel selection over mult-adds [1]."),
    click.option("--w-rws-params", type=click.FloatRange(0),
                 help="Exploration weight of roulette-wheel selection over params [1]."),
    click.option("--evaluator", metavar="brief|proxy|MODULE:FUNC",
                 help="Candidate evaluator [brief: incomplete training; proxy: a synthetic stand-in for "
                      "trying the machinery]."),
    click.option("--train-steps", type=click.IntRange(1),
                 help=f"Incomplete training: steps per candidate [{_SEARCH.train_steps}]."),
    click.option("--batch", type=click.IntRange(1), help=f"Incomplete training: batch [{_SEARCH.batch}]."),
    click.option("--patch", type=click.IntRange(4),
                 help=f"Incomplete training: HR patch size [{_SEARCH.patch}]."),
    click.option("--lr", type=float, help=f"Incomplete training: Adam peak learning rate [{_SEARCH.lr:g}]."),
    click.option("--schedule", type=click.Choice(["constant", "cosine"]),
                 help="Incomplete training: learning-rate schedule after a short warm-up "
                      f"[{_SEARCH.schedule}]."),
    click.option("--residual/--no-residual", default=None,
                 help="Give every candidate the image-level bicubic residual [on; off in the paper preset]."),
    click.option("--data", metavar="SETS|FOLDER", help=f"Training images [{_SEARCH.data}]."),
    click.option("--val", metavar="SET|FOLDER",
                 help=f"Validation images held out of training, full images, paper scoring [{_SEARCH.val}]."),
    click.option("--data-dir", type=click.Path(file_okay=False),
                 help="Data folder [env FALSR_DATA, ./dataset]."),
    click.option("--workers", type=click.IntRange(0),
                 help="Local worker processes (Dask) [1]; 0 evaluates in this process."),
    click.option("--scheduler", metavar="ADDRESS",
                 help="Evaluate on an existing Dask cluster instead, e.g. tcp://10.0.0.1:8786."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or table."),
]


def _search_options(f):
    for option in reversed(_SEARCH_OPTIONS):
        f = option(f)
    return f


@main.group("search", invoke_without_command=True, no_args_is_help=True)
@_search_options
@click.pass_context
def search_cmd(ctx: click.Context, out: str | None, preset: str | None, config_file: str | None, resume: bool,
               quiet: bool, **options) -> None:
    """Search the FALSR space for the Pareto front of PSNR, mult-adds and params (NSGA-II + RL).

    Every candidate is briefly trained and scored on --val; candidates over a cost budget are never
    trained. --out holds config.json, evaluations.jsonl (every result, as it arrives), state/ (the
    search after each generation), pareto.json, pareto.png and history.png. Kill it at any moment:
    the same command continues where it stopped, with no finished evaluation lost or repeated.

    \b
    Examples:
      falsr search --preset demo --out runs/demo
      falsr search --flops-max 100G --psnr-min 37.0 --out runs/s1
      falsr search --preset paper --flops-max 100G --workers 4 --out runs/s1
      falsr search --config search.toml --scheduler tcp://10.0.0.1:8786 --out runs/s2
      falsr search --resume --out runs/s1 --generations 200
      falsr search show runs/s1
      falsr train --arch runs/s1/pareto.json#0 --out runs/s1-best
    """
    if ctx.invoked_subcommand is not None:
        given = [k for k, v in {"out": out, "preset": preset, "config": config_file, **options}.items()
                 if v is not None] + (["resume"] if resume else [])
        if given:
            raise click.UsageError(f"search options (--{given[0].replace('_', '-')}) go without a subcommand")
        return
    from falsr_cli.console import console
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.report import front_table, read_pareto
    from falsr_cli.search.runner import load_saved_config, run_search

    if not out:
        raise click.UsageError("--out is required to search (or use: falsr search show DIR)")
    overrides = {**options, "out": out, "progress": False if quiet else None}
    if resume:
        if preset:
            raise click.UsageError("--preset cannot be combined with --resume (the saved options are used)")
        config = resolve_config(overrides, config_file=config_file, base=load_saved_config(out))
    else:
        config = resolve_config(overrides, preset=preset, config_file=config_file)
    result = run_search(config, quiet=quiet)
    if result.generation and not quiet:
        console.print(front_table(read_pareto(out)))


@search_cmd.command("show")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print pareto.json instead of a table.")
def search_show(run_dir: str, as_json: bool) -> None:
    """Print the Pareto front of a search (its pareto.json).

    \b
    Examples:
      falsr search show runs/s1
      falsr search show runs/s1 --json | jq '.front[0].architecture'
    """
    import json

    from falsr_cli.console import console
    from falsr_cli.search.report import front_table, read_pareto

    doc = read_pareto(run_dir)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        console.print(front_table(doc))


# (end search)

# ---- [export] export, upscale ------------------------------------------------------------------
def _echo_err(message: str) -> None:
    click.echo(message, err=True)


@main.command("export")
@click.argument("model", metavar="MODEL")
@click.option("--format", "-f", "fmt", type=click.Choice(["pb", "savedmodel", "tflite", "onnx"]),
              default="pb", show_default=True,
              help="Artefact format (onnx needs the extra: pip install 'falsr[onnx]').")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output file (a folder for savedmodel).")
@click.option("--interface", type=click.Choice(["falsr", "y"]), default="falsr", show_default=True,
              help="falsr: LR Y + HR PbPr → RGB (the published graphs' tensors); y: LR Y → HR Y.")
@click.option("--quantize", type=click.Choice(["none", "fp16", "int8"]), default="none", show_default=True,
              help="TFLite weights: float32, float16, or int8 dynamic-range.")
@click.option("--weights", default=None, metavar="FILE|random",
              help="Weights for an architecture MODEL: .weights.h5, .keras, checkpoint prefix, or 'random'.")
@click.option("--val", default="Set5", show_default=True, metavar="NAME|FOLDER",
              help="TFLite: data set on which the PSNR change against the float model is measured "
                   "('none' to skip).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
def export_cmd(model: str, fmt: str, out: str, interface: str, quantize: str, weights: str | None, val: str,
               data_dir: str | None) -> None:
    """Export a model to a deployable file; the export is checked against the Keras model.

    MODEL: a training run (or a checkpoint in one), a FALSR .pb (re-export), or an architecture (preset,
    .json, pareto.json#K) with --weights. Batch, height and width stay dynamic. The max abs difference
    to the Keras model on a fixed input is printed (float32 formats must stay within 1e-5), and a report
    goes to OUT.json. The write is atomic: a failed export leaves nothing behind.

    \b
    Examples:
      falsr export runs/demo --format pb --out FALSR-mine.pb
      falsr export ./pretrained_model/FALSR-B.pb --format tflite --quantize int8 --out falsr-b.tflite
      falsr export FALSR-C --weights runs/c/model.keras --format savedmodel --out serving/falsr_c/1
      falsr export runs/demo --format onnx --interface y --out falsr-y.onnx
    """
    from falsr_cli.console import console
    from falsr_cli.export.exporter import check_options, export_model
    from falsr_cli.export.source import load_keras_model

    check_options(fmt, interface, quantize)  # before loading anything (e.g. the onnx extra is missing)
    loaded = load_keras_model(model, weights)
    report = export_model(loaded.model, out, fmt, interface=interface, quantize=quantize, arch=loaded.arch,
                          source=loaded.source, val=None if val.lower() == "none" else val,
                          data_dir=data_dir, log=_echo_err)
    console.print(f"wrote {report.path} ({report.bytes:,} bytes): {fmt}"
                  f"{'' if quantize == 'none' else ' ' + quantize}, interface {interface}, "
                  f"inputs {', '.join(report.inputs)} → {', '.join(report.outputs)}; "
                  f"max abs diff {report.max_abs_diff:.3g}")


@main.command("upscale")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--model", "-m", default=None, metavar="MODEL",
              help="'bicubic', a .pb, a .tflite, a training run/checkpoint, or an architecture with "
                   "--weights [default: ./pretrained_model/FALSR-A.pb].")
@click.option("--weights", default=None, metavar="FILE", help="Weights for an architecture MODEL.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output folder.")
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True,
              help="Upscaling factor (must be the model's).")
@click.option("--tile", type=click.IntRange(min=0), default=256, show_default=True,
              help="Tile size in input pixels (0: whole image at once).")
@click.option("--tile-pad", type=click.IntRange(min=0), default=None,
              help="Overlap of tiles in input pixels [default: the model's receptive field].")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp"]), default=None,
              help="Output format [default: the input's, else png].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write what was written, skipped and failed to this JSON file.")
def upscale_cmd(inputs: tuple[str, ...], model: str | None, weights: str | None, out: str, scale: int,
                tile: int, tile_pad: int | None, fmt: str | None, overwrite: bool, quality: int,
                json_path: str | None) -> None:
    """Upscale photos: luma through the network, chroma and alpha bicubic, tile by tile.

    INPUT: files, folders or globs. Output: OUT/<stem>_x2.<ext>. Grayscale, RGBA and 16-bit photos keep
    their kind; the EXIF orientation is applied. A bad file is reported and skipped (exit status 1 at
    the end), the others are still processed.

    \b
    Examples:
      falsr upscale photo.jpg --out upscaled/
      falsr upscale 'holiday/*.png' scans/ --model runs/demo --out big/ --format png
      falsr upscale huge.tif --model FALSR-B.pb --tile 128 --out big/
    """
    from falsr_cli.console import console
    from falsr_cli.runtime.upscale import upscale_files

    result = upscale_files(list(inputs), model, out, scale=scale, tile=tile, tile_pad=tile_pad, fmt=fmt,
                           overwrite=overwrite, weights=weights, quality=quality, log=_echo_err)
    if json_path:
        from falsr_cli.atomic import write_json
        from falsr_cli.runtime.evaluate import jsonable

        write_json(json_path, jsonable(result))
    for _path, message in result["failed"]:
        _echo_err(f"error: {message}")
    for _path, message in result["skipped"]:
        _echo_err(f"skipped: {message}")
    console.print(f"{len(result['written'])} written, {len(result['skipped'])} skipped, "
                  f"{len(result['failed'])} failed in {result['seconds']:.1f} s (model {result['model']}, "
                  f"x{result['scale']}, tile {result['tile']}, pad {result['tile_pad']}) → {out}")
    if result["failed"]:
        sys.exit(1)


# (end export)

# ---- [demo] demo -------------------------------------------------------------------------------
@main.command("demo")
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

    from falsr_cli.console import console
    from falsr_cli.demo import run_demo

    summary = run_demo(out, train_steps=train_steps, data_dir=data_dir, say=console.print)
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
    if summary["pretrained_b"] is None:
        console.print("(no pretrained_model/FALSR-B.pb here, so it is not in the table)")
    console.print(f"Done in {summary['seconds']:.0f} s. Files in {out}/:")
    console.print(f"  search/pareto.json, pareto.png  the Pareto front   (falsr search show {out}/search)")
    console.print(f"  train/                          the trained network (falsr evaluate -m {out}/train)")
    console.print("  demo-best.pb                    its frozen graph with the FALSR interface")
    console.print("  demo.json                       every figure above")
    console.print(f"Next: falsr calculate --pb_path {out}/demo-best.pb --save_path ./result/")
    console.print("  or  falsr search --flops-max 100G --out runs/s1   (it prints its time estimate first)")
# (end demo)
