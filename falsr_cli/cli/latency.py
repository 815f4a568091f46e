"""`falsr latency`: measured latency of a network on this machine, and the latency model's profiles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from falsr_cli.space.cells import DEFAULT_SPACE, SPACES

if TYPE_CHECKING:
    from falsr_cli.space.architecture import Architecture

_RUNTIMES = ["tf", "xnnpack", "xnnpack-fp16", "xnnpack-int8"]


class _DefaultMeasure(click.Group):
    """`falsr latency MODEL …` means `falsr latency measure MODEL …`; `falsr latency profile` builds one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["measure", *args]
        return super().parse_args(ctx, args)


_runtime = click.option("--runtime", type=click.Choice(_RUNTIMES), default="xnnpack", show_default=True,
                        help="tf: TensorFlow's kernels; xnnpack: the TFLite interpreter with XNNPACK "
                             "(float32, "
                             "fp16 or int8 dynamic-range weights).")
_threads = click.option("--threads", type=click.IntRange(1), default=None,
                        help="Threads [the cores this process may use].")
_input = click.option("--input", "input_hw", default="240x240", show_default=True, metavar="HxW",
                      help="LR input size (height x width).")
_data_dir = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                         help="Data folder holding the profiles cache [env FALSR_DATA, ./dataset].")


@click.group("latency", cls=_DefaultMeasure)
def latency_group() -> None:
    """Latency on this machine: measure a network (MODEL or ARCH), or profile the latency model.

    \b
    Examples:
      falsr latency FALSR-B --runtime xnnpack --threads 2 --input 240x240
      falsr latency runs/s1/pareto.json#0 --runtime tf --json
      falsr latency profile --runtime xnnpack
    """


def _tflite_runner(path: str, threads: int,
                   hw: tuple[int, int]) -> tuple[Architecture | None, Callable[[], object]]:
    """(architecture or None, a no-argument call): an exported .tflite timed as it is, in its own
    quantization and interface, through LiteRT's default delegate (XNNPACK)."""
    import numpy as np

    from falsr_cli.models.network import SRNet

    net = SRNet.from_tflite(path, threads)
    rng = np.random.default_rng(0)
    y = rng.random((1, *hw, 1), dtype=np.float32)
    if net.luma is not None:
        return net.arch, lambda: net.luma(y)
    pbpr = rng.random((1, hw[0] * net.scale, hw[1] * net.scale, 2), dtype=np.float32) - 0.5
    return net.arch, lambda: net.interface(y, pbpr)


def _load(spec: str):
    """(architecture, Keras luma model): an architecture gets random weights, a model keeps its own."""
    from falsr_cli.errors import FalsrError
    from falsr_cli.models.latency import random_luma_model
    from falsr_cli.space.architecture import load_architecture

    try:
        arch = load_architecture(spec)
    except FalsrError:
        from falsr_cli.runtime.open import open_model

        net = open_model(spec, engine="keras")
        return net.arch, net.keras
    return arch, random_luma_model(arch)


@latency_group.command("measure")
@click.argument("model")
@_runtime
@_threads
@_input
@click.option("--runs", type=click.IntRange(1), default=20, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True, help="Untimed runs first.")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def latency_measure(model: str, runtime: str, threads: int | None, input_hw: str, runs: int, warmup: int,
                    data_dir: str | None, as_json: bool) -> None:
    """Median and p90 latency of MODEL (a name, .pb, .tflite, run) or ARCH (preset, .json, pareto.json#K,
    text).

    An architecture is timed with random weights: latency does not depend on their values. An exported
    .tflite is timed as it is (its own quantization and interface) in LiteRT with XNNPACK. With a cached
    profile for the same runtime, threads and input, the latency model's prediction is shown beside it.

    \b
    Example:
      falsr latency FALSR-C --runtime tf --input 480x480 --runs 5
    """
    from falsr_cli.cost.cost_model import mult_adds
    from falsr_cli.cost.latency_model import predict_ms
    from falsr_cli.cost.summary import parse_hw
    from falsr_cli.errors import FalsrError
    from falsr_cli.machine import describe
    from falsr_cli.models.latency import (
        MAX_SIDE,
        check_memory,
        default_threads,
        load_profile,
        measure_calls,
        measure_network,
        set_tf_threads,
    )

    hw = parse_hw(input_hw, most=MAX_SIDE)
    threads = default_threads(threads)
    if runtime == "tf":
        threads = set_tf_threads(threads)  # before anything runs in TensorFlow
    is_tflite = model.lower().endswith(".tflite")
    if is_tflite:
        if runtime != "xnnpack":
            raise FalsrError(f"--runtime {runtime}: a .tflite file runs as it was exported (its quantization "
                             "is the file's); --runtime applies to architectures and other models")
        arch, run = _tflite_runner(model, threads, hw)
        if arch is not None:
            check_memory(arch, hw, runtime)
        result = measure_calls(run, "tflite file (xnnpack)", threads, hw, runs=runs, warmup=warmup)
    else:
        arch, luma = _load(model)
        check_memory(arch, hw, runtime)
        result = measure_network(luma, runtime, threads, hw, runs=runs, warmup=warmup)
    macs = mult_adds(arch, hw) if arch is not None else None
    result.update({"model": model, "architecture": arch.to_text() if arch is not None else None,
                   "mult_adds": macs, "machine": describe(),
                   "gmacs_per_second": macs / (result["median_ms"] / 1000) / 1e9 if macs else None})
    result["predicted_ms"] = None  # the profile predicts the runtimes' own conversions, not a given file
    if arch is not None and not is_tflite:
        try:
            profile, path = load_profile(runtime, threads, hw, arch.scale, arch.features, data_dir,
                                         build=False, space=arch.space)
            result["predicted_ms"] = predict_ms(arch, profile)
            result["profile"] = str(path)
        except FalsrError as e:
            if "damaged" in str(e):  # a missing profile is normal; a damaged one should be rebuilt
                click.echo(f"note: {e}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from falsr_cli.cli.views import latency_table
    from falsr_cli.console import console

    console.print(latency_table([result]))


@latency_group.command("profile")
@_runtime
@_threads
@_input
@click.option("--rebuild", is_flag=True, help="Measure again even when this machine's profile is cached.")
@click.option("--space", type=click.Choice(list(SPACES)), default=DEFAULT_SPACE, show_default=True,
              help="The search space whose operations are measured (wide: also bsconv, pa, esa).")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Print the profile's summary as JSON.")
def latency_profile(runtime: str, threads: int | None, input_hw: str, rebuild: bool, space: str,
                    data_dir: str | None, as_json: bool) -> None:
    """Measure every operation of the search space once on this machine (cached; a few minutes).

    The latency model (`--latency-max` in `falsr search`, the prediction in `falsr latency`) sums these
    times, calibrated on whole random networks measured here. The cache is keyed by the CPU model, its
    vector flags, the core count and the TensorFlow version, so another machine gets its own.

    \b
    Example:
      falsr latency profile --runtime tf --threads 2 --input 240x240
    """
    from falsr_cli.console import progress
    from falsr_cli.cost.summary import parse_hw
    from falsr_cli.models.latency import MAX_SIDE, default_threads, load_profile, set_tf_threads

    hw = parse_hw(input_hw, most=MAX_SIDE)
    threads = default_threads(threads)
    if runtime == "tf":
        threads = set_tf_threads(threads)
    with progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        profile, path = load_profile(runtime, threads, hw, data_dir=data_dir, rebuild=rebuild,
                                     progress=report, space=space)
    from falsr_cli.cost.latency_model import calibrated_ms

    nets = profile["calibration"]["networks"]
    errors = [abs(calibrated_ms(n.get("parts", n["raw_ms"]), profile["calibration"]) - n["measured_ms"])
              / n["measured_ms"] for n in nets]
    summary = {"profile": str(path), "runtime": profile["runtime"], "threads": profile["threads"],
               "input": profile["input"], "operations": len(profile["ops"]),
               "calibration": {"a": profile["calibration"]["a"], "b": profile["calibration"]["b"],
                               "groups": profile["calibration"].get("groups"), "networks": len(nets),
                               "mean_abs_error": sum(errors) / len(errors) if errors else None},
               "seconds": profile["seconds"], "cpu": profile["machine"]["cpu"]}  # checked by load_profile
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    groups = summary["calibration"]["groups"]
    weights = (", ".join(f"{g} {w:.2f}" for g, w in groups.items())
               + f", b {profile['calibration']['b_groups']:.2f} ms" if groups
               else f"a {summary['calibration']['a']:.3f}, b {summary['calibration']['b']:.2f} ms")
    click.echo(f"{path}: {summary['operations']} operations, calibrated on {len(nets)} networks "
               f"({weights}"
               + (f", fit error {100 * summary['calibration']['mean_abs_error']:.1f}%" if errors else "")
               + f"), {profile['runtime']}, {profile['threads']} threads, {hw[0]}x{hw[1]}, "
                 f"{profile['machine']['cpu']}")
