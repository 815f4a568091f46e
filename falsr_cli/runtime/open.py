"""The front door: a model spec on the command line → a runnable network.

Every command that takes a MODEL opens it here:
- `load_keras_model(spec, weights)` → LoadedModel (architecture + Keras luma model): export, model cards;
- `load_sr_model(spec, weights)` → SRModel (luma or FALSR interface, receptive field): `falsr upscale`;
- `load_model(spec, scale)` → Upscaler (LR RGB → SR RGB): `falsr evaluate`, `calculate`, validation.
`bicubic` is MATLAB-compatible bicubic in all three (the scoring protocol's).

Accepted forms for the Keras path: a training run folder, or a checkpoint / `.keras` / `.weights.h5`
file inside one; a FALSR `.pb` (the published graphs: architecture and weights are read back from the
graph; graphs falsr exported: architecture from the JSON beside them, weights from the graph, checked
against it); an architecture (preset name, `.json` file, `pareto.json#K`) with `--weights` (a
`.weights.h5` / `.keras` file, a TF checkpoint prefix, or `random` for a randomly initialised network).
Everywhere, a model's name (`falsr model list`: the authors' FALSR-A/B/C, fetched on first use, and the
shipped models) stands for its .pb; with `--weights`, a preset's name is the architecture.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from falsr_cli.errors import FalsrError
from falsr_cli.models.engine import luma_function, resolve_engine
from falsr_cli.models.graphdef import check_ops, interface_graph, read_graph_def
from falsr_cli.models.network import (
    BicubicUpscaler,
    FrozenGraphUpscaler,
    LumaUpscaler,
    SRModel,
    Upscaler,
    keras_luma_upscaler,
    keras_sr_model,
    probe_scale,
)
from falsr_cli.models.pb_import import graph_architecture, model_from_graph_def, sidecar_architecture
from falsr_cli.models.probe import check_imported_graph
from falsr_cli.models.weights import load_weights
from falsr_cli.runtime.zoo import resolve_model_spec
from falsr_cli.space.architecture import load_architecture
from falsr_cli.train.runs import load_trained_model

MODEL_FORMS = (
    "a model's name (falsr model list), a training run or a checkpoint in one, a FALSR .pb, or an "
    "architecture (preset, .json, pareto.json#K) with --weights"
)
# The best model falsr ships (see the README's results): FALSR-B with the image-level residual.
DEFAULT_MODEL = Path("pretrained_model") / "t291-FALSR-B-res.pb"


@dataclass
class LoadedModel:
    """A luma model ready to export or run, with where it came from."""

    arch: Any  # Architecture
    model: Any  # keras.Model: (N,h,w,1) LR luma → (N,sh,sw,1) HR luma
    source: str


def default_model_path() -> Path:
    """The project's best pretrained model (DEFAULT_MODEL) in this folder, else the one beside the package."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / DEFAULT_MODEL).is_file():
            return base / DEFAULT_MODEL
    raise FalsrError(
        f"no --model given and no pretrained model at {DEFAULT_MODEL} (in this folder or the falsr "
        "repository): pass --model (a .pb, a .tflite, a training run, 'bicubic', …) or re-train it with "
        "`make pretrained-B-res`"
    )


def load_keras_model(spec: str | os.PathLike, weights: str | None = None) -> LoadedModel:
    """Resolve MODEL (and `--weights`) into an architecture and a Keras luma model."""
    spec = str(spec) if weights else resolve_model_spec(str(spec))
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".tflite", ".onnx"):
        raise FalsrError(f"cannot export from {path.name}: give {MODEL_FORMS}")
    if suffix == ".pb":
        if weights:
            raise FalsrError("--weights does not apply to a .pb (the graph holds its weights)")

        graph_def = read_graph_def(path)  # read once: for the import and for the check against it
        check_ops(graph_def, str(path))
        arch, model = model_from_graph_def(graph_def, path)
        check_imported_graph(graph_def, model, str(path))
        return LoadedModel(arch, model, f"{path} (imported graph)")
    if path.exists() and weights is None and suffix != ".json":
        arch, model = load_trained_model(path)
        return LoadedModel(arch, model, f"{path} (training run)")
    try:
        arch = load_architecture(spec)
    except FalsrError as e:
        raise FalsrError(f"MODEL {spec!r} is none of {MODEL_FORMS} ({e})") from None
    if not weights:
        raise FalsrError(
            f"{spec} is an architecture without weights: add --weights FILE (.weights.h5, .keras or a "
            "checkpoint), or --weights random for a randomly initialised network"
        )
    from falsr_cli.models.builder import build_luma_model

    model = build_luma_model(arch, seed=0 if weights == "random" else None)
    load_weights(model, weights, spec)
    return LoadedModel(arch, model, f"{spec} + {weights}")


# ---- MODEL → the network `falsr upscale` runs (SRModel) ----


def _graph_model(path: Path) -> SRModel:
    """A frozen graph, run as it is: the FALSR interface (published or exported) or `--interface y`."""
    graph_def = read_graph_def(path)
    check_ops(graph_def, str(path))
    try:
        arch = graph_architecture(graph_def, path)
    except FalsrError:
        arch = None  # not a FALSR-space graph: run it, but the receptive field is unknown
    graph, is_interface = interface_graph(graph_def, str(path))
    interface: Callable | None = graph if is_interface else None
    luma = None if is_interface else graph
    scale = arch.scale if arch is not None else probe_scale(graph, interface is not None, path.name)
    return SRModel.of_architecture(path.stem, scale, arch, luma=luma, interface=interface)


def _tflite_model(path: Path) -> SRModel:
    from falsr_cli.models.tflite import TFLiteModel

    model = TFLiteModel(path)
    arch = sidecar_architecture(path)
    if model.interface == "y":
        return SRModel.of_architecture(model.name, model.scale, arch, luma=model, runtime="tflite")
    return SRModel.of_architecture(model.name, model.scale, arch, interface=model, runtime="tflite")


def load_sr_model(spec: str | os.PathLike | None = None, weights: str | None = None,
                  engine: str = "tf", threads: int | None = None) -> SRModel:
    """MODEL for `upscale`: 'bicubic', a .pb, a .tflite, a training run/checkpoint, or an arch + weights.

    No spec: the project's best pretrained model (DEFAULT_MODEL). `engine` (tf, xnnpack, auto) runs the
    network in TensorFlow or through XNNPACK (see models/engine.py); a .tflite always runs in TFLite.
    """
    if spec is None:
        spec = default_model_path()
    spec = str(spec) if weights else resolve_model_spec(str(spec))
    if spec.lower() == "bicubic":
        return SRModel("bicubic", None, None)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".pb", ".tflite") and not path.is_file():
        raise FalsrError(f"model file not found: {spec}")
    if suffix == ".tflite":
        return _tflite_model(path)
    used = resolve_engine(engine)
    if suffix == ".pb" and not weights and used == "tf":
        return _graph_model(path)
    loaded = load_keras_model(spec, weights)
    sr = keras_sr_model(loaded.model, loaded.arch, name=path.stem or spec)
    if used == "xnnpack":
        sr.luma, _ = luma_function(loaded.model, "xnnpack", threads, sr.name)
        sr.runtime = "tflite"
    return sr


# ---- MODEL → the Upscaler `falsr evaluate` and `calculate` score ----

MODEL_SPEC_HELP = ("'bicubic', a model's name (falsr model list), a frozen graph (.pb), a .tflite file, or a "
                   "training-run folder")


def load_model(spec: str, scale: int = 2, engine: str = "tf", threads: int | None = None) -> Upscaler:
    """Dispatch on what `spec` is: 'bicubic'; a model's name; a `.pb`; a `.tflite`; a training run or a
    checkpoint in one. `engine` as in load_sr_model."""
    spec = resolve_model_spec(str(spec))
    if spec.lower() == "bicubic":
        return BicubicUpscaler(scale)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".pb", ".tflite") and not path.is_file():
        raise FalsrError(f"model file not found: {spec}")
    used = resolve_engine(engine) if suffix != ".tflite" else "tflite"
    if suffix == ".pb" and used == "xnnpack":
        loaded = load_keras_model(path)  # the graph imported (and checked against it), then converted
        fn, _ = luma_function(loaded.model, "xnnpack", threads, path.stem)
        return _same_scale(LumaUpscaler(fn, scale=loaded.arch.scale, name=path.stem), scale)
    if suffix == ".pb":
        return _same_scale(_graph_upscaler(path), scale)
    if suffix == ".tflite":
        from falsr_cli.models.tflite import load_tflite_upscaler

        return _same_scale(load_tflite_upscaler(path), scale)
    if path.exists() or Path(f"{spec}.index").is_file():
        # A training run, or a checkpoint (file or TF prefix) in one: the run knows its architecture.
        arch, model = load_trained_model(path)
        name = path.name if path.is_dir() else f"{path.parent.name}/{path.name}"
        if used == "xnnpack":
            fn, _ = luma_function(model, "xnnpack", threads, name)
            return _same_scale(LumaUpscaler(fn, scale=arch.scale, name=name), scale)
        return _same_scale(keras_luma_upscaler(model, scale=arch.scale, name=name), scale)
    raise FalsrError(f"unknown model {spec!r}: give {MODEL_SPEC_HELP}")


def _graph_upscaler(path: Path) -> Upscaler:
    """A .pb with the FALSR interface (published or exported), or an `--interface y` export (luma only)."""
    sr = load_sr_model(path)  # vetted, imported and pruned once; scale from the architecture or a probe
    if sr.interface is not None:
        return FrozenGraphUpscaler(sr.interface, scale=sr.scale)
    return LumaUpscaler(sr.luma, scale=sr.scale, name=sr.name)


def _same_scale(upscaler: Upscaler, scale: int) -> Upscaler:
    if upscaler.scale != scale:
        raise FalsrError(f"model {upscaler.name} upscales x{upscaler.scale}, but x{scale} was asked for")
    return upscaler
