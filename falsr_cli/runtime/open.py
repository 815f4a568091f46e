"""The front door: a MODEL on the command line → an SRNet. Every command that takes a MODEL opens it here.

Accepted forms: `bicubic` (MATLAB-compatible, the scoring protocol's); a model's name (`falsr model list`:
the authors' FALSR-A/B/C, fetched on first use, and the shipped models) for its .pb; a FALSR `.pb` (the
published graphs: architecture and weights read back from the graph; graphs falsr exported: architecture
from the JSON beside them, weights from the graph, checked against it); a `.tflite`; a training run folder,
or a checkpoint / `.keras` / `.weights.h5` file inside one; an architecture (preset name, `.json` file,
`pareto.json#K`) with `--weights` (a `.weights.h5` / `.keras` file, a TF checkpoint prefix, or `random` for
a randomly initialised network). With `--weights`, a preset's name is the architecture.

`engine`: tf (a .pb runs as the graph itself), xnnpack (the network converted for the TFLite interpreter),
auto (the faster here, models/engine.py), or keras (the network rebuilt in Keras: export, latency).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from falsr_cli.atomic import sha256_file
from falsr_cli.errors import FalsrError
from falsr_cli.machine import usable_cores
from falsr_cli.models.engine import (
    ENGINES,
    XNNPACK_ENGINES,
    cached_tflite,
    conversion_suffix,
    graph_conversion,
    remember_graph_conversion,
    resolve_engine,
)
from falsr_cli.models.graphdef import check_ops, read_graph_def
from falsr_cli.models.network import SRNet
from falsr_cli.models.pb_import import model_from_graph_def
from falsr_cli.models.probe import check_imported_graph
from falsr_cli.models.tflite import METADATA_NAME, TFLiteModel, tflite_metadata
from falsr_cli.models.weights import load_weights
from falsr_cli.paths import DEFAULT_MODEL
from falsr_cli.reporting import ByteReport
from falsr_cli.runtime.zoo import resolve_model_spec
from falsr_cli.space.architecture import Architecture, load_architecture
from falsr_cli.train.runs import load_trained_model

if TYPE_CHECKING:
    import keras

MODEL_FORMS = (
    "a model's name (falsr model list), a training run or a checkpoint in one, a FALSR .pb, or an "
    "architecture (preset, .json, pareto.json#K) with --weights"
)
MODEL_SPEC_HELP = ("'bicubic', a model's name (falsr model list), a frozen graph (.pb), a .tflite file, or a "
                   "training-run folder")


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


def open_model(spec: str | os.PathLike | None = None, weights: str | None = None, scale: int | None = None,
               engine: str = "tf", threads: int | None = None,
               on_download: ByteReport | None = None, data_dir: str | os.PathLike | None = None) -> SRNet:
    """MODEL (and `--weights`) → the SRNet that runs it; no spec: the project's best pretrained model.

    A `scale` the network does not have is refused; a .tflite always runs in TFLite, whatever `engine` says
    (the SRNet's `engine` tells what runs it); `auto`'s measurement is kept in `data_dir`'s cache.
    `on_download` follows the fetch of a published model on its first use.
    """
    if engine not in (*ENGINES, "keras"):
        raise FalsrError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}")
    spec = str(spec if spec is not None else default_model_path())
    spec = spec if weights else resolve_model_spec(spec, on_download=on_download)
    if spec.lower() == "bicubic":
        return SRNet.bicubic(scale)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".tflite", ".onnx") and engine == "keras":
        raise FalsrError(f"cannot export from {path.name}: give {MODEL_FORMS}")
    if suffix == ".tflite" and engine == "xnnpack-int8":
        raise FalsrError(f"--engine xnnpack-int8 converts a model to int8; {path.name} is a .tflite already "
                         "and runs as it was exported (`falsr export --quantize int8` makes an int8 file)")
    if suffix in (".pb", ".tflite") and not path.is_file():
        raise FalsrError(f"model file not found: {spec}")
    if suffix == ".tflite":
        return _same_scale(SRNet.from_tflite(path, threads), scale)
    used = "keras" if engine == "keras" else resolve_engine(engine, data_dir)
    if suffix == ".pb" and not weights and used == "tf":
        return _same_scale(SRNet.from_graph(path), scale)
    sha = sha256_file(path) if suffix == ".pb" and not weights and used in XNNPACK_ENGINES else None
    # the int8 conversion is kept beside the float one, under its own key; only float32 ships beside a .pb
    digest = sha[:24] + conversion_suffix(used) if sha else None
    if sha and (known := graph_conversion(digest) or (used == "xnnpack" and _exported_conversion(path, sha))):
        content, meta = known
        arch = load_architecture(meta["arch"]) if meta.get("arch") else None
        runner = TFLiteModel(content, threads or usable_cores(), path.stem)
        source = f"{path} (its XNNPACK conversion, {meta.get('from', 'cached')})"
        return _same_scale(SRNet(path.stem, meta["scale"], luma=runner, arch=arch, engine=used,
                                 source=source), scale)
    arch, model, name, source = _keras_network(spec, weights)
    net = SRNet.from_keras(model, arch, name, engine="tf" if used == "keras" else used, threads=threads,
                           source=source)
    if digest:
        remember_graph_conversion(digest, cached_tflite(model, engine=used), arch.to_text(), net.scale)
    return _same_scale(net, scale)


def _exported_conversion(pb: Path, sha: str) -> tuple[bytes, dict] | None:
    """The float32 `--interface y` .tflite exported from this very .pb and kept beside it as
    `<stem>.y.tflite` (the default model ships one), as (content, {arch, scale, from}): the .pb's XNNPACK
    conversion made already, so even its first run needs no TensorFlow. None unless its description
    names the .pb's sha256."""
    sibling = pb.with_name(f"{pb.stem}.y.tflite")
    try:
        content = sibling.read_bytes()
        meta = json.loads(tflite_metadata(content).get(METADATA_NAME, b"{}"))
    except Exception:  # noqa: BLE001 - absent, or not a flatbuffer (any parse error): import the .pb as usual
        return None
    # float32, any input size, for no particular target: the conversion itself, not a deployment variant
    plain = (meta.get("interface") == "y" and meta.get("quantize") == "none" and not meta.get("target")
             and str(meta.get("input_size", "")).startswith("any")) if isinstance(meta, dict) else False
    if not plain or meta.get("source_sha256") != sha:
        return None
    try:
        scale = int(meta["scale"])
    except (KeyError, ValueError):
        return None
    return content, {"arch": meta.get("architecture") or None, "scale": scale, "from": f"exported: {sibling}"}


def _keras_network(spec: str, weights: str | None) -> tuple[Architecture, keras.Model, str, str]:
    """(architecture, Keras luma model, name, where it came from) for every form but bicubic and .tflite."""
    from falsr_cli.models.builder import build_luma_model  # loads Keras

    path = Path(spec)
    if path.suffix.lower() == ".pb":
        if weights:
            raise FalsrError("--weights does not apply to a .pb (the graph holds its weights)")
        graph_def = read_graph_def(path)  # read once: for the import and for the check against it
        check_ops(graph_def, str(path))
        arch, model = model_from_graph_def(graph_def, path)
        check_imported_graph(graph_def, model, str(path))
        return arch, model, path.stem, f"{path} (imported graph)"
    if (path.exists() or Path(f"{spec}.index").is_file()) and weights is None and path.suffix != ".json":
        arch, model = load_trained_model(path)
        name = path.name if path.is_dir() else f"{path.parent.name}/{path.name}"
        return arch, model, name, f"{path} (training run)"
    try:
        arch = load_architecture(spec)
    except FalsrError as e:
        raise FalsrError(f"unknown model {spec!r}: it is none of {MODEL_FORMS} ({e})") from None
    if not weights:
        raise FalsrError(
            f"{spec} is an architecture without weights: add --weights FILE (.weights.h5, .keras or a "
            "checkpoint), or --weights random for a randomly initialised network"
        )
    model = build_luma_model(arch, seed=0 if weights == "random" else None)
    load_weights(model, weights, spec)
    return arch, model, path.stem or spec, f"{spec} + {weights}"


def _same_scale(net: SRNet, scale: int | None) -> SRNet:
    if scale is not None and net.scale != scale:
        raise FalsrError(f"model {net.name} upscales x{net.scale}, but x{scale} was asked for")
    return net
