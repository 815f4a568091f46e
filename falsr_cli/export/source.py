"""MODEL on the command line → (architecture, Keras luma model with its weights).

Accepted forms: a training run folder, or a checkpoint / `.keras` / `.weights.h5` file inside one; a
FALSR `.pb` (the published graphs: architecture and weights are read back from the graph; graphs falsr
exported: architecture from the JSON beside them, weights from the graph, checked against it); an
architecture (preset name, `.json` file, `pareto.json#K`) with `--weights` (a `.weights.h5` / `.keras`
file, a TF checkpoint prefix, or `random` for a randomly initialised network of that shape).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from falsr_cli.errors import FalsrError

MODEL_FORMS = (
    "a training run or a checkpoint in one, a FALSR .pb, or an architecture "
    "(preset, .json, pareto.json#K) with --weights"
)
DEFAULT_MODEL = Path("pretrained_model") / "FALSR-A.pb"


@dataclass
class LoadedModel:
    """A luma model ready to export or run, with where it came from."""

    arch: Any  # Architecture
    model: Any  # keras.Model: (N,h,w,1) LR luma → (N,sh,sw,1) HR luma
    source: str


def default_model_path() -> Path:
    """The project's pretrained FALSR-A: ./pretrained_model/FALSR-A.pb, else the one beside the package."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / DEFAULT_MODEL).is_file():
            return base / DEFAULT_MODEL
    raise FalsrError(
        f"no --model given and no pretrained model at {DEFAULT_MODEL} (in this folder or the falsr "
        "repository): pass --model (a .pb, a .tflite, a training run, 'bicubic', …) or re-train it with "
        "`make pretrained-A`"
    )


def load_weights(model: Any, weights: str, arch_label: str) -> None:
    """Load `.weights.h5` / `.keras` / TF checkpoint `weights` into `model`; `random` keeps its init."""
    if weights == "random":
        return
    path = Path(weights)
    name = path.name
    try:
        if name.endswith(".weights.h5") or name.endswith(".keras") or name.endswith(".h5"):
            if not path.is_file():
                raise FalsrError(f"weights file not found: {path}")
            model.load_weights(str(path))
            return
        prefix = str(path)[: -len(".index")] if name.endswith(".index") else str(path)
        if Path(prefix + ".index").is_file():
            import tensorflow as tf

            tf.train.Checkpoint(model=model).restore(
                prefix
            ).assert_existing_objects_matched().expect_partial()
            return
    except FalsrError:
        raise
    except Exception as e:  # Keras/h5py/TF raise many types for mismatched or corrupt weights
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise FalsrError(f"cannot load weights {path} into {arch_label}: {first}") from None
    raise FalsrError(
        f"--weights {weights}: not a .weights.h5/.keras file or a checkpoint prefix, nor 'random'"
    )


def check_imported_graph(graph_def: Any, model: Any, source: str) -> float:
    """Max abs difference between a graph and the Keras model imported from it, on the export check input.

    Refuses the import when they disagree (say a JSON sidecar naming another architecture of the same
    shapes), so an export never starts from weights that do not reproduce the graph.
    """
    import numpy as np

    from falsr_cli.export.exporter import FLOAT_TOLERANCE, model_scale, verify_inputs
    from falsr_cli.runtime.graph import interface_graph
    from falsr_cli.space.builder import build_falsr_interface

    graph, is_interface = interface_graph(graph_def, source)
    keras_model = build_falsr_interface(model) if is_interface else model
    xs = verify_inputs("falsr" if is_interface else "y", model_scale(model))
    expected = np.asarray(keras_model(xs if len(xs) > 1 else xs[0], training=False))
    got = graph(*xs)
    diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.shape == expected.shape else np.inf
    if not diff <= FLOAT_TOLERANCE:
        raise FalsrError(
            f"{source}: the network rebuilt from the graph does not reproduce it (max abs diff {diff:.3g}, "
            f"bound {FLOAT_TOLERANCE:g}); is the JSON beside it from another model?"
        )
    return diff


def load_keras_model(spec: str | os.PathLike, weights: str | None = None) -> LoadedModel:
    """Resolve MODEL (and `--weights`) into an architecture and a Keras luma model."""
    spec = str(spec)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".tflite", ".onnx"):
        raise FalsrError(f"cannot export from {path.name}: give {MODEL_FORMS}")
    if suffix == ".pb":
        if weights:
            raise FalsrError("--weights does not apply to a .pb (the graph holds its weights)")
        from falsr_cli.runtime.graph import check_ops, read_graph_def
        from falsr_cli.space.pb_import import model_from_graph_def

        graph_def = read_graph_def(path)  # read once: for the import and for the check against it
        check_ops(graph_def, str(path))
        arch, model = model_from_graph_def(graph_def, path)
        check_imported_graph(graph_def, model, str(path))
        return LoadedModel(arch, model, f"{path} (imported graph)")
    if path.exists() and weights is None and suffix != ".json":
        from falsr_cli.train.runs import load_trained_model

        arch, model = load_trained_model(path)
        return LoadedModel(arch, model, f"{path} (training run)")
    from falsr_cli.space.architecture import load_architecture

    try:
        arch = load_architecture(spec)
    except FalsrError as e:
        raise FalsrError(f"MODEL {spec!r} is none of {MODEL_FORMS} ({e})") from None
    if not weights:
        raise FalsrError(
            f"{spec} is an architecture without weights: add --weights FILE (.weights.h5, .keras or a "
            "checkpoint), or --weights random for a randomly initialised network"
        )
    from falsr_cli.space.builder import build_luma_model

    model = build_luma_model(arch, seed=0 if weights == "random" else None)
    load_weights(model, weights, spec)
    return LoadedModel(arch, model, f"{spec} + {weights}")
