"""`falsr export` and `falsr upscale`: deployable files, and super-resolved photos."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from falsr_cli.paths import DEFAULT_MODEL


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


@click.command("export")
@click.argument("model", metavar="MODEL")
@click.option("--format", "-f", "fmt", type=click.Choice(["pb", "savedmodel", "tflite", "onnx"]),
              default="pb", show_default=True,
              help="Artefact format (onnx needs the extra: pip install 'falsr[onnx]').")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output file (a folder for savedmodel).")
@click.option("--interface", type=click.Choice(["falsr", "y"]), default="falsr", show_default=True,
              help="falsr: LR Y + HR PbPr → RGB (the published graphs' tensors); y: LR Y → HR Y.")
@click.option("--quantize", type=click.Choice(["none", "fp16", "int8", "int8-full"]), default="none",
              show_default=True,
              help="TFLite: float32; fp16 or int8 weights (int8: dynamic range, smaller, not faster); "
                   "int8-full: int8 weights and activations calibrated on the built-in samples, for int8 "
                   "kernels (XNNPACK, NNAPI), --interface y only. Its PSNR against float is reported.")
@click.option("--target", default="", metavar="NAME",
              help="Make the file for a runtime: opencv4 (onnx), nnapi, mobile-gpu (tflite), coreml "
                   "(savedmodel). Fixed shapes (--input-size), depth-to-space as a transposed conv where the "
                   "runtime lacks it, and the ops it will not take reported.")
@click.option("--input-size", default=None, metavar="HxW",
              help="Fixed LR input size (batch 1), e.g. 240x320; default: batch, height and width dynamic.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the export report as JSON (the file's names and self-description included).")
@click.option("--weights", default=None, metavar="FILE|random",
              help="Weights for an architecture MODEL: .weights.h5, .keras, checkpoint prefix, or 'random'.")
@click.option("--val", default="Set5", show_default=True, metavar="NAME|FOLDER",
              help="TFLite: data set on which the PSNR change against the float model is measured "
                   "('none' to skip).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder [env FALSR_DATA, ./dataset].")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing OUT that is a previous export of the same kind (nothing else).")
def export_cmd(model: str, fmt: str, out: str, interface: str, quantize: str, target: str,
               input_size: str | None, as_json: bool, weights: str | None, val: str, data_dir: str | None,
               overwrite: bool) -> None:
    """Export a model to a deployable file; the export is checked against the Keras model.

    MODEL: a training run (or a checkpoint in one), a FALSR .pb (re-export), or an architecture (preset,
    .json, pareto.json#K) with --weights. Batch, height and width stay dynamic unless --input-size or a
    --target fixes them. The file is loaded back and run by the names it gives; the max abs difference
    to the Keras model on a fixed input is printed (float32 formats must stay within 1e-5), and a report
    goes to OUT.json. ONNX, TFLite and SavedModel files describe themselves (scale, value range, colour
    convention, layout, tensor names, architecture) in their own metadata. The write is atomic: a failed
    export leaves nothing behind. An existing OUT is never
    replaced without --overwrite, and never the MODEL itself, a folder holding it or the working folder.

    \b
    Examples:
      falsr export runs/demo --format pb --out FALSR-mine.pb
      falsr export FALSR-B --format tflite --quantize int8 --out falsr-b.tflite
      falsr export FALSR-C --weights runs/c/model.keras --format savedmodel --out serving/falsr_c/1
      falsr export runs/demo --format onnx --interface y --out falsr-y.onnx
      falsr export FALSR-B --format onnx --target opencv4 --input-size 240x320 --out falsr-b-cv.onnx
    """
    from falsr_cli.console import console
    from falsr_cli.export.exporter import check_options, claim_export, export_model
    from falsr_cli.export.targets import parse_input_size
    from falsr_cli.runtime.open import open_model

    size = parse_input_size(input_size) if input_size else None
    check_options(fmt, interface, quantize, target, size)  # before loading anything (e.g. a missing extra)
    inputs = [p for p in (model, weights) if p and os.path.exists(p)]
    # The output is checked before the (slow) load, and again by export_model just before writing.
    claim_export(out, fmt, overwrite=overwrite, inputs=inputs)
    # A run folder is used by one process at a time: exporting a run that is training is refused.
    from falsr_cli.outputs import folder_lock
    from falsr_cli.train.runs import find_run_dir

    run = find_run_dir(Path(model)) if os.path.exists(model) else None
    with folder_lock(run, "export", reading=True) if run is not None else contextlib.nullcontext():
        net = open_model(model, weights, engine="keras")
    from falsr_cli.atomic import sha256_file
    from falsr_cli.runtime.zoo import resolve_model_spec

    source_file = Path(resolve_model_spec(model, data_dir))
    report = export_model(net.keras, out, fmt, interface=interface, quantize=quantize, arch=net.arch,
                          source=net.source, val=None if val.lower() == "none" else val,
                          data_dir=data_dir, log=_echo_err, overwrite=overwrite, inputs=inputs,
                          target=target, input_size=size,
                          source_sha256=sha256_file(source_file) if source_file.is_file() else "")
    if as_json:
        import json

        click.echo(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
        return
    console.print(f"wrote {report.path} ({report.bytes:,} bytes): {fmt}"
                  f"{'' if quantize == 'none' else ' ' + quantize}, interface {interface}, "
                  f"inputs {', '.join(report.inputs)} → {', '.join(report.outputs)}; "
                  f"max abs diff {report.max_abs_diff:.3g}")


@click.command("upscale")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--model", "-m", default=None, metavar="MODEL",
              help="'bicubic', a .pb, a .tflite, a training run/checkpoint, or an architecture with "
                   f"--weights [default: ./{DEFAULT_MODEL}].")
@click.option("--weights", default=None, metavar="FILE", help="Weights for an architecture MODEL.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output folder.")
@click.option("--scale", type=click.IntRange(2, 4), default=2, show_default=True,
              help="Upscaling factor (must be the model's).")
@click.option("--tile", type=click.IntRange(min=0), default=None,
              help="Tile size in input pixels (0: whole image at once) [from --memory].")
@click.option("--memory", "memory", default="1G", show_default=True, metavar="SIZE",
              help="Working memory the network may use per tile (e.g. 512M, 2G); sets the tile size. "
                   "The process adds TensorFlow (about 0.6 GB) and the photo.")
@click.option("--tile-pad", type=click.IntRange(min=0), default=None,
              help="Overlap of tiles in input pixels [default: the model's receptive field].")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp"]), default=None,
              help="Output format [default: the input's, else png].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write what was written, skipped and failed to this JSON file; '-' prints it "
                   "instead of the summary line.")
@click.option("--engine", type=click.Choice(["auto", "tf", "xnnpack", "xnnpack-int8"]), default="auto",
              show_default=True,
              help="Run the network in TensorFlow or XNNPACK; auto: the faster on this machine (GPU: tf); "
                   "xnnpack-int8: int8 weights and activations, 2-3x faster, within a grey level "
                   "(`falsr evaluate --engine xnnpack-int8` gives its score cost).")
@click.option("--threads", type=click.IntRange(1), default=None, help="XNNPACK threads [all cores].")
def upscale_cmd(inputs: tuple[str, ...], model: str | None, weights: str | None, out: str, scale: int,
                tile: int | None, memory: str, tile_pad: int | None, fmt: str | None, overwrite: bool,
                quality: int, json_path: str | None, engine: str, threads: int | None) -> None:
    """Upscale photos: luma through the network, chroma and alpha bicubic, tile by tile.

    INPUT: files, folders or globs. Output: OUT/<stem>_x2.<ext>. Grayscale, RGBA and 16-bit photos keep
    their kind; the EXIF orientation is applied. A bad file is reported and skipped (exit status 1 at
    the end), the others are still processed.

    \b
    Examples:
      falsr upscale photo.jpg --out upscaled/
      falsr upscale 'holiday/*.png' scans/ --model runs/demo --out big/ --format png
      falsr upscale huge.tif --model FALSR-B.pb --memory 256M --out big/
    """
    from falsr_cli.console import console, progress
    from falsr_cli.errors import FalsrError
    from falsr_cli.outputs import claim_output, json_kind
    from falsr_cli.runtime.upscale import collect_inputs, upscale_files
    from falsr_cli.units import parse_bytes

    try:
        budget = parse_bytes(memory, "--memory")
    except FalsrError as e:
        raise click.BadParameter(str(e).split(": ", 1)[1], param_hint="--memory") from None
    if json_path == "-":
        json_path, to_stdout = None, True
    else:
        to_stdout = False
    if json_path:  # before any work: never one of the photos, the model or a file that is not falsr's
        read = [*collect_inputs(inputs)[0], *(p for p in (model, weights) if p and os.path.exists(p))]
        claim_output(json_path, overwrite=overwrite, inputs=read, flag="--json", others={"--out": out},
                     same_kind=json_kind("written", "skipped", "failed"))

    result = upscale_files(list(inputs), model, out, scale=scale, tile=tile, tile_pad=tile_pad, fmt=fmt,
                           overwrite=overwrite, weights=weights, quality=quality, log=_echo_err,
                           engine=engine, threads=threads, memory=budget, progress=progress,
                           reserved=[json_path] if json_path else [])
    if json_path:
        from falsr_cli.atomic import write_json
        from falsr_cli.runtime.evaluate import jsonable

        write_json(json_path, jsonable(result))
    for _path, message in result["failed"]:
        _echo_err(f"error: {message}")
    for _path, message in result["skipped"]:
        _echo_err(f"skipped: {message}")
    if to_stdout:
        import json

        from falsr_cli.runtime.evaluate import jsonable

        click.echo(json.dumps(jsonable(result), indent=2))
        sys.exit(1 if result["failed"] else 0)
    counts = (f"{len(result['written'])} written, {len(result['skipped'])} skipped, "
              f"{len(result['failed'])} failed in {result['seconds']:.1f} s")
    if result["engine"] is None:  # nothing to write: the model was not opened
        console.print(f"{counts} (nothing to upscale, so model {result['model']} was not opened) → {out}")
    else:
        console.print(f"{counts} (model {result['model']}, x{result['scale']}, tile {result['tile']}, pad "
                      f"{result['tile_pad']}, engine {result['engine']}) → {out}")
    if result["failed"]:
        sys.exit(1)
