"""`falsr search`: the multi-objective architecture search, and `search show`."""

from __future__ import annotations

import click

from falsr_cli.search.config import PRESETS, SEARCH_INITS, SearchConfig
from falsr_cli.train.config import PRECISION_CHOICES

# Every search option defaults to None here so that --preset and --config can fill it; flags win. The help
# shows SearchConfig's defaults.
_SEARCH = SearchConfig()
_SEARCH_OPTIONS = [
    click.option("--out", type=click.Path(file_okay=False),
                 help="Run folder (required to search). Re-running the same command on it continues the "
                      "search after any interruption."),
    click.option("--preset", type=click.Choice(list(PRESETS)),
                 help="demo: n 3, population 6, 3 generations, 100 steps on 48-px patches of the built-in "
                      "samples, in this process (about a minute on 2 CPU cores); cpu: n 7, population 8, "
                      "4 generations, 1000 steps each on T91 + BSDS200-train (about an hour on 2 CPU cores, "
                      "resumable); paper: n 7, population 64, 160 generations, batch 16, Adam 1e-4."),
    click.option("--config", "config_file", type=click.Path(dir_okay=False),
                 help="TOML file of options (keys as the long flags, - or _; optionally under [search])."),
    click.option("--resume", is_flag=True,
                 help="Continue the search in --out with its saved options; flags may change only how it "
                      "runs (workers, scheduler, generations, max-evals)."),
    click.option("--flops-max", metavar="COUNT",
                 help="Mult-adds budget at 480×480 LR, e.g. 100G, 5e10, 1.5T; candidates above it are never "
                      "trained."),
    click.option("--latency-max", metavar="DURATION",
                 help="Latency budget of the luma network, e.g. 40ms, predicted by the latency model on this "
                      "machine (see falsr latency profile); candidates above it are never trained, those "
                      "near "
                      "it are measured."),
    click.option("--latency-runtime", type=click.Choice(["tf", "xnnpack", "xnnpack-fp16", "xnnpack-int8"]),
                 help="Runtime of --latency-max [xnnpack]."),
    click.option("--latency-threads", type=click.IntRange(1), help="Threads of --latency-max [all cores]."),
    click.option("--latency-input", metavar="HxW", help="LR input size of --latency-max [240x240]."),
    click.option("--objectives", type=click.Choice(["psnr,mult_adds,params", "psnr,latency,params"]),
                 help="The three objectives: PSNR, mult-adds or latency (needs --latency-max), params "
                      "[psnr,mult_adds,params]."),
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
    click.option("--fidelity", type=click.Choice(["single", "sh"]),
                 help="single: every candidate trains for --train-steps; sh: successive halving inside each "
                      "generation over --rungs [single]."),
    click.option("--rungs", metavar="STEPS,STEPS,...",
                 help="With --fidelity sh: the training steps of each rung, increasing, e.g. 300,1000,3000; "
                      "every candidate trains at the first, the best --promote share of a rung (by Pareto "
                      "rank) on to the next (continuing its run under --horizon); the last replaces "
                      "--train-steps."),
    click.option("--promote", type=float,
                 help="With --fidelity sh: the share of a rung's candidates trained at the next, at least "
                      "one [1/3]."),
    click.option("--batch", type=click.IntRange(1), help=f"Incomplete training: batch [{_SEARCH.batch}]."),
    click.option("--patch", type=click.IntRange(4),
                 help=f"Incomplete training: HR patch size [{_SEARCH.patch}]."),
    click.option("--lr", type=float, help=f"Incomplete training: Adam peak learning rate [{_SEARCH.lr:g}]."),
    click.option("--schedule", type=click.Choice(["constant", "cosine"]),
                 help="Incomplete training: learning-rate schedule after a short warm-up "
                      f"[{_SEARCH.schedule}]."),
    click.option("--warmup", type=click.IntRange(min=0), metavar="STEPS",
                 help="Incomplete training: steps of linear warm-up to --lr [a tenth of the steps, at most "
                      "100]."),
    click.option("--horizon", type=click.IntRange(min=0), metavar="STEPS",
                 help="Incomplete training: the learning-rate schedule of a run this long, of which each "
                      "candidate trains the first --train-steps (the shipped recipe stopped early); 0: "
                      f"the candidate's own steps [{_SEARCH.horizon}]."),
    click.option("--init", type=click.Choice(SEARCH_INITS),
                 help="Incomplete training: initial weights, as falsr train's (lsuv: he-zero, then each "
                      f"conv scaled to the first batch) [{_SEARCH.init}]."),
    click.option("--precision", type=click.Choice(PRECISION_CHOICES),
                 help="Incomplete training: compute precision, as falsr train's [auto: bfloat16 on CPUs "
                      "with native BF16, mixed_float16 on tensor-core GPUs, else float32]."),
    click.option("--space", type=click.Choice(["falsr", "wide"]),
                 help="Cells to search: falsr (the paper's 192) or wide (also bsconv, pa, esa) [falsr]."),
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


@click.group("search", invoke_without_command=True, no_args_is_help=True)
@_search_options
@click.pass_context
def search_cmd(ctx: click.Context, out: str | None, preset: str | None, config_file: str | None, resume: bool,
               quiet: bool, **options) -> None:
    """Search the FALSR space for the Pareto front of PSNR, mult-adds and params (NSGA-II + RL).

    Every candidate is briefly trained and scored on --val; candidates over a cost budget are never
    trained. With --fidelity sh every candidate trains at the first of --rungs, and only the best
    --promote share of a rung (by Pareto rank) at the next. --out holds config.json, evaluations.jsonl
    (every result, as it arrives), state/ (the search after each generation), pareto.json, pareto.png
    and history.png. Kill it at any moment: the same command continues where it stopped, with no
    finished evaluation lost or repeated.

    \b
    Examples:
      falsr search --preset demo --out runs/demo
      falsr search --flops-max 100G --psnr-min 37.0 --out runs/s1
      falsr search --space wide --flops-max 74.5G --params-max 325k --out runs/w1
      falsr search --preset cpu --fidelity sh --rungs 300,1000,3000 --promote 0.34 --out runs/sh1
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
    from falsr_cli.cli.views import GenerationRows
    from falsr_cli.console import console, err_console, progress
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.report import read_pareto
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
    bar = progress if config.progress and err_console.is_terminal else None
    def note(message: str) -> None:
        err_console.print(message, markup=False, highlight=False)

    from dataclasses import fields

    from falsr_cli.cli import naming_options

    with naming_options({f.name for f in fields(SearchConfig)}):
        result = run_search(config, quiet=quiet, log=note, on_generation=GenerationRows(console).print,
                            progress=bar)
    if result.generation and not quiet:
        _print_front(read_pareto(out))


@search_cmd.command("show")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print pareto.json instead of a table.")
def search_show(run_dir: str, as_json: bool) -> None:
    """Print the Pareto front of a search (its pareto.json), and its rungs under --fidelity sh.

    \b
    Examples:
      falsr search show runs/s1
      falsr search show runs/s1 --json | jq '.front[0].architecture'
    """
    import json

    from falsr_cli.search.report import read_pareto

    doc = read_pareto(run_dir)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_front(doc)


def _print_front(doc: dict) -> None:
    """The front of pareto.json, after successive halving's rungs per generation when it used them."""
    from falsr_cli.cli.views import front_table, rungs_table
    from falsr_cli.console import console

    if "fidelity" in doc:
        console.print(rungs_table(doc))
    console.print(front_table(doc))
