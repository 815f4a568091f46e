"""Export a Keras luma model to the formats people deploy, each export checked against the Keras model.

Formats: `pb` (frozen GraphDef, the published FALSR interface by default: a drop-in for the released
graphs, written with the ops and attributes TensorFlow 1.x knows), `savedmodel` (TF Serving signature, and
the same function as an attribute for Keras 3's `TFSMLayer`), `tflite` (float32, fp16 or int8 weights, or
int8 weights and activations calibrated on the built-in samples) and `onnx` (via tf2onnx from the frozen
graph). Batch, height and width stay dynamic unless a fixed `input_size` (or a deployment `target`, see
`targets`) asks for one.

Interfaces: `falsr` — inputs `input_image_evaluate_y` (N,h,w,1 LR luma in [0,1]) and
`input_image_evaluate_pbpr` (N,sh,sw,2 bicubic HR Pb/Pr), output RGB in [0,1] with the fixed
YPbPr→RGB stage and clamp inside (the .pb and .onnx name it `test_sr_evaluator_i1_b0_g/target:0`, the
signatures of the SavedModel and the .tflite `rgb`); `y` — input `input_image_evaluate_y`, output `sr_y`
(HR luma), for runtimes with their own colour handling.

Every artefact is written to a temporary path, loaded back and run on a fixed input through its own
runtime and by the names the file itself gives (tensor names, signature, metadata); the max abs difference
to the Keras model must be ≤ 1e-5 for float32 formats (a looser, stated bound for quantized TFLite), or
the export fails and nothing is left behind. ONNX, TFLite and SavedModel files carry a description of
what they expect (`metadata.describe`). A report goes to `<out>.json`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.atomic import atomic_dir, atomic_path, read_json, sha256_file, write_json
from falsr_cli.data.imresize import imresize
from falsr_cli.data.pairs import load_pairs
from falsr_cli.data.samples import sample_hr_images
from falsr_cli.errors import FalsrError
from falsr_cli.export.graphs import depth_to_space_as_conv_transpose, graph_ops, tf1_compatible, tf1_problems
from falsr_cli.export.metadata import describe, to_json
from falsr_cli.export.targets import Target, get_target
from falsr_cli.models.graphdef import (
    INPUT_PBPR,
    INPUT_Y,
    OUTPUT,
    OUTPUT_SCOPE,
    Y_OUTPUT,
    FrozenGraph,
    graph_function,
    placeholders,
    read_graph_def,
)
from falsr_cli.models.network import SRNet, falsr_inputs
from falsr_cli.models.probe import FLOAT_TOLERANCE, QUANT_TOLERANCE, probe_scale, verify_inputs
from falsr_cli.models.tflite import (
    METADATA_NAME,
    make_interpreter,
    tflite_bytes,
    tflite_metadata,
    tflite_ops,
    with_tflite_metadata,
)
from falsr_cli.outputs import claim_output, json_kind
from falsr_cli.runtime.evaluate import run_pairs, summarize
from falsr_cli.space.architecture import Architecture

if TYPE_CHECKING:
    import keras
    from tensorflow.core.framework.graph_pb2 import GraphDef

EXPORT_FORMATS = ("pb", "savedmodel", "tflite", "onnx")
INTERFACES = ("falsr", "y")
QUANTIZE = ("none", "fp16", "int8", "int8-full")

RGB_OUTPUT = "rgb"  # the output's name in a SavedModel signature, a .tflite and an .onnx
SIGNATURE = "serving_default"

ONNX_EXTRA_HINT = "pip install 'falsr[onnx]'"
ONNX_OPSET = 17
# int8-full calibration: the built-in samples, LR crops of this side where the input size is free.
CALIBRATION_SIDE = 64


@dataclass
class ExportReport:
    """What an export produced and how closely it matches the Keras model."""

    format: str
    interface: str
    quantize: str
    path: str
    bytes: int
    scale: int
    max_abs_diff: float
    tolerance: float
    verify_input: str
    seconds: float
    source: str = ""
    architecture: dict | None = None
    inputs: list[str] = field(default_factory=list)  # as the written file names them
    outputs: list[str] = field(default_factory=list)
    validation: dict | None = None  # tflite: PSNR/SSIM of the float model and the export on a data set
    sha256: str = ""  # of the file (savedmodel: of saved_model.pb): how a later --overwrite knows it is ours
    target: str = ""
    input_size: list[int] | None = None  # fixed LR height and width, None: dynamic
    metadata: dict[str, str] = field(default_factory=dict)  # the description, as read back from the file
    ops: list[str] = field(default_factory=list)  # op types in the file, as its format names them
    unsupported_ops: list[str] = field(default_factory=list)  # those the target will not take
    tf1_problems: list[str] = field(default_factory=list)  # pb: what TensorFlow 1.x could not import
    quantization: dict | None = None  # quantized tflite: PSNR of its output against the float model's

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def report_path(out: str | os.PathLike) -> Path:
    """Where the JSON report of an export to `out` goes: `<out>.json`."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def check_options(fmt: str, interface: str, quantize: str, target: str = "",
                  input_size: tuple[int, int] | None = None) -> Target | None:
    """Reject unknown or meaningless combinations before any work is done; the target, if named."""
    if fmt not in EXPORT_FORMATS:
        raise FalsrError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if interface not in INTERFACES:
        raise FalsrError(f"unknown interface {interface!r}: use one of {', '.join(INTERFACES)}")
    if quantize not in QUANTIZE:
        raise FalsrError(f"unknown quantization {quantize!r}: use one of {', '.join(QUANTIZE)}")
    if quantize != "none" and fmt != "tflite":
        raise FalsrError(f"--quantize {quantize} applies to --format tflite only")
    if quantize == "int8-full" and interface != "y":
        # TFLite's converter gives the colour stage's input (255·Y) the scale of its output, so the luma
        # comes out in steps of one: 11.5 dB against the float model on FALSR-B-res, 49 dB for the network.
        raise FalsrError("--quantize int8-full takes --interface y (the luma network; the colour stage does "
                         "not survive int8 activations)")
    if fmt == "onnx":
        require_onnx()
    if not target:
        return None
    found = get_target(target, fmt)
    if found.fixed_size and input_size is None:
        raise FalsrError(f"--target {target} needs fixed input shapes: give --input-size HxW (LR pixels)")
    return found


def require_onnx() -> None:
    """The optional ONNX extra, or a one-line error naming it."""
    missing = [m for m in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise FalsrError(f"ONNX export needs {' and '.join(missing)}, the optional extra: {ONNX_EXTRA_HINT}")


# ---- the functions that get exported ----


@dataclass
class _Traced:
    """The export function of one interface: Keras reference, serving function and frozen graph."""

    keras_fn: Callable[..., Any]
    serve: Any  # tf.function of the serving signature (savedmodel)
    keras_inputs: list[Any]  # the input structures TFSMLayer may pass to `serving_default` (savedmodel)
    graph_def: GraphDef  # frozen, pruned to the output, nodes named for the .pb (TF 2 ops)
    input_names: list[str]  # placeholder / signature input names
    output_name: str  # signature output key (savedmodel, tflite)
    pb_output: str  # node name in the .pb and .onnx
    module: Any  # tf.Module tracking the model's variables (for savedmodel)


def _trace(luma_model: keras.Model, interface: str, scale: int,
           input_size: tuple[int, int] | None = None) -> _Traced:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    n, h, w = (1, *input_size) if input_size else (None, None, None)
    spec_y = tf.TensorSpec([n, h, w, 1], tf.float32, name=INPUT_Y)
    module = tf.Module()
    if interface == "falsr":
        from falsr_cli.models.builder import build_falsr_interface

        keras_model = build_falsr_interface(luma_model)
        hr = (h * scale, w * scale) if input_size else (None, None)
        spec_c = tf.TensorSpec([n, *hr, 2], tf.float32, name=INPUT_PBPR)

        @tf.function(input_signature=[spec_y, spec_c])
        def serve(input_image_evaluate_y, input_image_evaluate_pbpr):
            return {
                RGB_OUTPUT: keras_model([input_image_evaluate_y, input_image_evaluate_pbpr], training=False)
            }

        @tf.function(input_signature=[spec_y, spec_c])
        def for_pb(input_image_evaluate_y, input_image_evaluate_pbpr):
            rgb = keras_model([input_image_evaluate_y, input_image_evaluate_pbpr], training=False)
            # The published output tensor name, so that the graph is a drop-in for the released files.
            with tf.name_scope(OUTPUT_SCOPE):
                return tf.identity(rgb, name="target")

        @tf.function
        def for_keras(inputs):
            # Keras 3's TFSMLayer calls its endpoint with the layer's one input: [y, pbpr] or a dict.
            y, pbpr = (inputs[INPUT_Y], inputs[INPUT_PBPR]) if isinstance(inputs, dict) else inputs
            return serve(y, pbpr)

        keras_inputs = [[spec_y, spec_c], (spec_y, spec_c), {INPUT_Y: spec_y, INPUT_PBPR: spec_c}]
        inputs, output, pb_output = [INPUT_Y, INPUT_PBPR], RGB_OUTPUT, OUTPUT
    else:
        keras_model = luma_model

        @tf.function(input_signature=[spec_y])
        def serve(input_image_evaluate_y):
            return {Y_OUTPUT: keras_model(input_image_evaluate_y, training=False)}

        @tf.function(input_signature=[spec_y])
        def for_pb(input_image_evaluate_y):
            return tf.identity(keras_model(input_image_evaluate_y, training=False), name=Y_OUTPUT)

        for_keras, keras_inputs = serve, []
        inputs, output, pb_output = [INPUT_Y], Y_OUTPUT, Y_OUTPUT

    pb_frozen = convert_variables_to_constants_v2(for_pb.get_concrete_function())
    graph_def = _reachable_subgraph(pb_frozen.graph.as_graph_def(), pb_output)
    names = {n.name for n in graph_def.node}
    missing = [n for n in [*inputs, pb_output] if n not in names]
    if missing:  # tf.function renamed something: never write a graph with the wrong interface
        raise FalsrError(f"internal: the frozen graph lacks node(s) {', '.join(missing)}")
    module.model = keras_model
    module.serve = serve
    # Keras's advice for a SavedModel, `TFSMLayer(path, call_endpoint="serving_default")`, looks for an
    # attribute of that name before the signature (which takes keywords only, and so fails in a layer).
    setattr(module, SIGNATURE, for_keras)

    def keras_fn(*arrays: np.ndarray) -> np.ndarray:
        xs = list(arrays) if len(arrays) > 1 else arrays[0]
        return np.asarray(keras_model(xs, training=False))

    return _Traced(keras_fn, serve, keras_inputs, graph_def, inputs, output, pb_output, module)


# ---- writers: each writes `tmp` and says how to run it, by the names the written file gives ----


Runner = Callable[..., np.ndarray]


@dataclass
class _Written:
    """A written artefact as read back from disk: how to run it and what it says about itself."""

    run: Runner
    inputs: list[str]
    outputs: list[str]
    metadata: dict[str, str]
    ops: list[str]


def _reachable_subgraph(graph_def: GraphDef, output: str) -> GraphDef:
    """The nodes `output` depends on, in their original order (what the deprecated TF1
    `graph_util.extract_sub_graph` did, without its warning on every export)."""
    import tensorflow as tf

    by_name = {n.name: n for n in graph_def.node}
    keep, todo = set(), [output]
    while todo:
        name = todo.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        todo.extend(i.lstrip("^").split(":")[0] for i in by_name[name].input)
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    out.node.extend(n for n in graph_def.node if n.name in keep)
    return out


def _write_pb(tr: _Traced, graph_def: GraphDef, tmp: Path, description: dict[str, str]) -> _Written:
    tmp.write_bytes(graph_def.SerializeToString())
    # Load it back from the bytes on disk, through the same vetted loader `falsr calculate` uses.
    written = read_graph_def(tmp)
    inputs = [f"{n}:0" for n in tr.input_names]
    run = FrozenGraph(written, inputs, f"{tr.pb_output}:0", str(tmp))
    found = [f"{n}:0" for n in placeholders(written)]
    # A GraphDef has no metadata field: the description goes to the report beside it.
    return _Written(run, found, [f"{tr.pb_output}:0"], description, graph_ops(written))


def _write_savedmodel(tr: _Traced, tmp: Path, description: dict[str, str]) -> _Written:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder:
        asset = Path(folder) / f"{METADATA_NAME}.json"
        asset.write_bytes(to_json(description))
        tr.module.description = tf.saved_model.Asset(str(asset))
        for structure in tr.keras_inputs:  # traced here: the other formats do not need them
            getattr(tr.module, SIGNATURE).get_concrete_function(structure)
        tf.saved_model.save(tr.module, str(tmp), signatures={SIGNATURE: tr.serve.get_concrete_function()})
    loaded = tf.saved_model.load(str(tmp))
    signature = loaded.signatures[SIGNATURE]
    _, kwargs = signature.structured_input_signature
    metadata = json.loads((tmp / "assets" / f"{METADATA_NAME}.json").read_text(encoding="utf-8"))

    def run(*arrays: np.ndarray) -> np.ndarray:
        feeds = {name: tf.constant(a) for name, a in zip(tr.input_names, arrays, strict=True)}
        return signature(**feeds)[tr.output_name].numpy()

    # The SavedModel runs the Keras functions themselves; its ops are those of their frozen graph.
    return _Written(run, sorted(kwargs, key=_order(tr.input_names)), list(signature.structured_outputs),
                    metadata, graph_ops(tr.graph_def))


def _order(names: list[str]) -> Callable[[str], int]:
    """Sort key putting names in the interface's order (unknown names last)."""
    return lambda n: names.index(n) if n in names else len(names)


def _write_tflite(tr: _Traced, graph_def: GraphDef, tmp: Path, quantize: str, description: dict[str, str],
                  calibration: Callable[[], Iterator[dict[str, np.ndarray]]] | None) -> _Written:
    # From the frozen graph, pruned with the output keyed by name: the signature then names it (a frozen
    # tf.function's outputs would come out as `output_0`).
    fn = graph_function(graph_def, [f"{n}:0" for n in tr.input_names], {tr.output_name: f"{tr.pb_output}:0"})
    content = tflite_bytes(fn, quantize, calibration)
    content = with_tflite_metadata(content, METADATA_NAME, to_json(description))
    tmp.write_bytes(content)
    content = tmp.read_bytes()
    interpreter = make_interpreter(content, None)
    signature = interpreter.get_signature_list()[SIGNATURE]
    runner = interpreter.get_signature_runner(SIGNATURE)
    metadata = json.loads(tflite_metadata(content).get(METADATA_NAME, b"{}"))

    def run(*arrays: np.ndarray) -> np.ndarray:
        feeds = {n: np.asarray(a, np.float32) for n, a in zip(tr.input_names, arrays, strict=True)}
        return np.array(runner(**feeds)[tr.output_name])

    return _Written(run, sorted(signature["inputs"], key=_order(tr.input_names)), signature["outputs"],
                    metadata, tflite_ops(content))


def _write_onnx(tr: _Traced, graph_def: GraphDef, tmp: Path, description: dict[str, str]) -> _Written:
    require_onnx()
    import onnxruntime as ort
    import tf2onnx

    inputs = [f"{n}:0" for n in tr.input_names]
    try:
        model_proto, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=inputs, output_names=[f"{tr.pb_output}:0"], opset=ONNX_OPSET
        )
    except Exception as e:  # tf2onnx raises plain Exceptions for unsupported ops
        raise FalsrError(f"ONNX conversion failed: {str(e).strip().splitlines()[0]}") from None
    del model_proto.metadata_props[:]
    for key, value in description.items():
        model_proto.metadata_props.add(key=key, value=value)
    tmp.write_bytes(model_proto.SerializeToString())
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    found = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]

    def run(*arrays: np.ndarray) -> np.ndarray:
        return session.run(outputs[:1], dict(zip(inputs, arrays, strict=True)))[0]

    ops = sorted({n.op_type for n in model_proto.graph.node})
    return _Written(run, found, outputs, dict(session.get_modelmeta().custom_metadata_map), ops)


def calibration_inputs(interface: str, scale: int,
                       input_size: tuple[int, int] | None) -> list[list[np.ndarray]]:
    """The inputs int8-full quantization is calibrated on, and its PSNR cost measured on: the built-in
    samples' LR images (MATLAB bicubic), at the fixed input size or as centre crops."""
    out = []
    for _name, hr in sample_hr_images():
        if input_size:
            lr = imresize(hr, output_shape=input_size)
        else:
            lr = imresize(hr, 1.0 / scale)
            h, w = (min(CALIBRATION_SIDE, d) for d in lr.shape[:2])
            top, left = (lr.shape[0] - h) // 2, (lr.shape[1] - w) // 2
            lr = lr[top : top + h, left : left + w]
        y, pbpr = falsr_inputs(np.ascontiguousarray(lr), scale)
        out.append([y, pbpr] if interface == "falsr" else [y])
    return out


def quantization_cost(run: Runner, keras_fn: Callable[..., np.ndarray],
                      samples: list[list[np.ndarray]]) -> dict[str, Any]:
    """PSNR (dB, peak 255) of a quantized export's output against the float model's, over the samples."""
    psnrs, worst = [], 0.0
    for xs in samples:
        got, want = np.asarray(run(*xs), np.float64), np.asarray(keras_fn(*xs), np.float64)
        mse = float(np.mean((255.0 * (got - want)) ** 2))
        psnrs.append(float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse))
        worst = max(worst, float(np.max(np.abs(got - want))))
    return {"images": len(samples), "data": "samples (built-in)", "psnr_db": float(np.mean(psnrs)),
            "min_psnr_db": float(np.min(psnrs)), "max_abs_diff": worst}


def _is_savedmodel(folder: Path) -> bool:
    """A folder holding a SavedModel and nothing else (what an earlier `--format savedmodel` wrote)."""
    allowed = {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
    names = {p.name for p in folder.iterdir()}
    return "saved_model.pb" in names and names <= allowed


_REPORT_KEYS = ("format", "interface", "quantize", "path", "bytes", "max_abs_diff", "tolerance")
is_export_report = json_kind(*_REPORT_KEYS)


def _export_hash(out: Path) -> str:
    """What an export's report vouches for: the file's sha256 (a SavedModel's: its saved_model.pb's)."""
    return sha256_file(out / "saved_model.pb" if out.is_dir() else out)


def is_previous_export(out: Path) -> bool:
    """Whether `out` is an export falsr wrote: its report `<out>.json` names it and holds its hash (older
    reports: its size), so a user's file that merely has the name is never taken for one."""
    report = report_path(out)
    if not report.is_file() or not is_export_report(report):
        return False
    if out.is_dir() and not _is_savedmodel(out):
        return False
    doc = read_json(report)
    if Path(str(doc.get("path", ""))).name != out.name:
        return False
    if doc.get("sha256"):
        return doc["sha256"] == _export_hash(out)
    files = [p for p in out.rglob("*") if p.is_file()] if out.is_dir() else [out]
    size = sum(p.stat().st_size for p in files)
    return doc.get("bytes") == size


def claim_export(out: str | os.PathLike, fmt: str, *, overwrite: bool = False,
                 inputs: Sequence[str | os.PathLike] = (), flag: str = "--out") -> None:
    """The output policy for an export: `out` (a folder for savedmodel) and its report `<out>.json`; with
    `overwrite`, both are replaced only when they are a previous export and its report."""
    claim_output(out, overwrite=overwrite, folder=fmt == "savedmodel", inputs=inputs,
                 same_kind=is_previous_export, flag=flag)
    claim_output(report_path(out), overwrite=overwrite, inputs=inputs, same_kind=is_export_report,
                 flag=f"{flag} {out}: its report")


def _check_out(out: Path, fmt: str, flag: str = "--out") -> None:
    if fmt != "savedmodel" and out.is_dir():
        raise FalsrError(
            f"{flag} {out} is a folder; a {fmt} export is one file (e.g. {out / ('model.' + fmt)})"
        )
    if fmt == "savedmodel" and out.is_file():
        raise FalsrError(f"{flag} {out} is a file; a SavedModel is a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FalsrError(f"cannot write {out}: {parent} is a file")
            break


# ---- the entry point ----


def export_model(
    luma_model: keras.Model,
    out: str | os.PathLike,
    fmt: str = "pb",
    *,
    interface: str = "falsr",
    quantize: str = "none",
    arch: Architecture | None = None,
    source: str = "",
    val: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    overwrite: bool = False,
    inputs: Sequence[str | os.PathLike] = (),
    flag: str = "--out",
    target: str = "",
    input_size: tuple[int, int] | None = None,
    source_sha256: str = "",
) -> ExportReport:
    """Export `luma_model` ((N,h,w,1) LR luma → HR luma) to `out`; verify, write atomically, report.

    `val` (a data set name or folder of pairs) measures, for TFLite, the PSNR/SSIM of the float Keras
    model and of the export; a validation set that cannot be loaded is reported, not fatal. An existing
    `out` (or its report `<out>.json`) is replaced only with `overwrite`, and only when it is a previous
    export of the same kind; `inputs` (what the model was read from) are never written over. `target`
    (targets.TARGETS) checks the file's ops against what that runtime takes, and rewrites depth-to-space
    for one without it; `input_size` (LR height, width) fixes the input shapes (batch 1). `source_sha256`
    (of the file the model was read from) goes into the file's description.
    """
    start = time.perf_counter()
    out = Path(out)
    chosen = check_options(fmt, interface, quantize, target, input_size)
    claim_export(out, fmt, overwrite=overwrite, inputs=inputs, flag=flag)
    _check_out(out, fmt, flag)
    log = log or (lambda _msg: None)
    scale = probe_scale(luma_model)
    tr = _trace(luma_model, interface, scale, input_size)
    xs = verify_inputs(interface, scale, hw=input_size, batch=1 if input_size else None)
    expected = tr.keras_fn(*xs)
    tolerance = QUANT_TOLERANCE[quantize] if quantize != "none" else FLOAT_TOLERANCE
    label = fmt + (f" ({quantize})" if quantize != "none" else "")

    graph_def = tr.graph_def
    if chosen is not None and not chosen.takes_depth_to_space(fmt) and fmt in ("tflite", "onnx"):
        graph_def = depth_to_space_as_conv_transpose(graph_def)
        log(f"{label}: depth-to-space written as a transposed convolution ({chosen.name} lacks it)")
    graph_def = tf1_compatible(graph_def)  # the .pb's promise; the same ops for the converters
    signature_names = fmt in ("savedmodel", "tflite")
    names_in = tr.input_names if signature_names else [f"{n}:0" for n in tr.input_names]
    names_out = [tr.output_name if signature_names else f"{tr.pb_output}:0"]
    description = describe(interface, scale, names_in, names_out, input_size=input_size,
                           architecture=arch.to_text() if arch is not None else "", target=target,
                           quantize=quantize, source_sha256=source_sha256)
    samples = calibration_inputs(interface, scale, input_size) if quantize != "none" else []

    def calibration() -> Iterator[dict[str, np.ndarray]]:
        # By name: the converter feeds a list in its signature's (alphabetical) order, PbPr first.
        for sample in samples:
            yield dict(zip(tr.input_names, sample, strict=True))

    def verify(written: _Written) -> float:
        # The names the file gives are the documented ones, and its description is the one written.
        if (written.inputs, written.outputs) != (names_in, names_out):
            raise FalsrError(f"internal: the {label} file names its inputs {written.inputs} and outputs "
                             f"{written.outputs}, not {names_in} and {names_out}")
        if written.metadata != description:
            raise FalsrError(f"internal: the {label} file's description does not read back as written")
        got = np.asarray(written.run(*xs))
        if got.shape != expected.shape:
            raise FalsrError(f"{label} export gives shape {got.shape}, the Keras model {expected.shape}")
        diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
        if not np.isfinite(diff) or diff > tolerance:
            raise FalsrError(
                f"{label} export differs from the Keras model by {diff:.3g} (max abs) on the check input, "
                f"more than the bound {tolerance:g}; nothing was written"
            )
        log(f"{label}: max abs diff to the Keras model {diff:.3g} (bound {tolerance:g}) on {shape_text(xs)}")
        return diff

    def check_ops(written: _Written) -> list[str]:
        if chosen is None:
            return []
        bad = chosen.unsupported(fmt, written.ops)
        if bad and not chosen.falls_back:
            raise FalsrError(f"{chosen.runtime} does not take op(s) {', '.join(bad)} of this {fmt} export; "
                             "nothing was written")
        if bad:
            log(f"{label}: {chosen.name} runs op(s) {', '.join(bad)} on the CPU instead (not delegated)")
        else:
            log(f"{label}: every op is one {chosen.name} takes")
        return bad

    validation = quantization = None
    tf1: list[str] = []
    if fmt == "savedmodel":
        with atomic_dir(out, create=False) as tmp:
            written = _write_savedmodel(tr, tmp, description)
            diff = verify(written)
            unsupported = check_ops(written)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    else:
        with atomic_path(out, suffix=out.suffix) as tmp:
            if fmt == "pb":
                written = _write_pb(tr, graph_def, tmp, description)
                tf1 = tf1_problems(graph_def)
                if tf1:  # the op's TF 1 form is unknown: say so, the graph still runs in TF 2
                    log(f"pb: TensorFlow 1.x cannot import this graph: {'; '.join(tf1[:3])}")
            elif fmt == "tflite":
                written = _write_tflite(tr, graph_def, tmp, quantize, description,
                                        calibration if quantize == "int8-full" else None)
            else:
                written = _write_onnx(tr, graph_def, tmp, description)
            diff = verify(written)
            unsupported = check_ops(written)
            if samples:
                quantization = quantization_cost(written.run, tr.keras_fn, samples)
                log(f"{label}: PSNR against the float model {quantization['psnr_db']:.2f} dB on "
                    f"{quantization['images']} sample images")
            if fmt == "tflite" and val and input_size is None:
                validation = tflite_validation(luma_model, tmp, val, scale, data_dir, log)
            elif fmt == "tflite" and val:  # whole images of any size do not fit a fixed input
                log(f"PSNR change on {val} not measured: the input size is fixed")
        size = out.stat().st_size
    report = ExportReport(
        format=fmt,
        interface=interface,
        quantize=quantize,
        path=str(out),
        bytes=size,
        scale=scale,
        max_abs_diff=diff,
        tolerance=tolerance,
        verify_input=shape_text(xs),
        seconds=round(time.perf_counter() - start, 3),
        source=source,
        architecture=arch.to_dict() if arch is not None else None,
        inputs=written.inputs,
        outputs=written.outputs,
        validation=validation,
        sha256=_export_hash(out),
        target=target,
        input_size=list(input_size) if input_size else None,
        metadata=written.metadata,
        ops=written.ops,
        unsupported_ops=unsupported,
        tf1_problems=tf1,
        quantization=quantization,
    )
    write_json(report_path(out), report.to_dict())
    return report


def shape_text(xs: list[np.ndarray]) -> str:
    return " + ".join("x".join(str(d) for d in x.shape) for x in xs)


def tflite_validation(
    luma_model: keras.Model,
    tflite_path: Path,
    val: str | os.PathLike,
    scale: int,
    data_dir: str | os.PathLike | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """PSNR/SSIM on a validation set of the float Keras model and of the exported TFLite model."""
    try:
        pairs = load_pairs(val, scale=scale, data_dir=data_dir)
    except FalsrError as e:
        log(f"PSNR change not measured: validation set {val} unavailable ({e})")
        return {"dataset": str(val), "error": str(e)}
    results = {}
    for key, upscaler in (
        ("float", SRNet.from_keras(luma_model, name="keras", scale=scale)),
        ("tflite", SRNet.from_tflite(tflite_path)),
    ):
        summary = summarize(run_pairs(upscaler, pairs, scale=scale))
        results[key] = {"psnr": summary["psnr"], "ssim": summary["ssim"]}
    change = {
        "dataset": str(val),
        "images": len(pairs),
        **results,
        "psnr_change": results["tflite"]["psnr"] - results["float"]["psnr"],
        "ssim_change": results["tflite"]["ssim"] - results["float"]["ssim"],
    }
    log(
        f"PSNR on {val} ({len(pairs)} images): float {results['float']['psnr']:.4f} dB, "
        f"tflite {results['tflite']['psnr']:.4f} dB, change {change['psnr_change']:+.4f} dB "
        f"(SSIM {change['ssim_change']:+.5f})"
    )
    return change
