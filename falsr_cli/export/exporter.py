"""Export a Keras luma model to the formats people deploy, each export checked against the Keras model.

Formats: `pb` (frozen GraphDef, the published FALSR interface by default: a drop-in for the released
graphs), `savedmodel` (TF Serving signature), `tflite` (float32, fp16 or int8 dynamic-range weights) and
`onnx` (optional extra, via tf2onnx from the frozen graph). All keep batch, height and width dynamic.

Interfaces: `falsr` — inputs `input_image_evaluate_y` (N,h,w,1 LR luma in [0,1]) and
`input_image_evaluate_pbpr` (N,sh,sw,2 bicubic HR Pb/Pr), output RGB in [0,1] with the fixed
YPbPr→RGB stage and clamp inside (the .pb names it `test_sr_evaluator_i1_b0_g/target`, the other formats
`rgb`); `y` — input `input_image_evaluate_y`, output `sr_y` (HR luma), for runtimes with their own colour
handling.

Every artefact is written to a temporary path, loaded back and run on a fixed input; the max abs
difference to the Keras model is printed and must be ≤ 1e-5 for float32 formats (a looser, stated bound
for quantized TFLite), or the export fails and nothing is left behind. A report goes to `<out>.json`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from falsr_cli import interrupts
from falsr_cli.atomic import atomic_path, read_json, sha256_file, write_json
from falsr_cli.errors import FalsrError
from falsr_cli.models.probe import FLOAT_TOLERANCE, QUANT_TOLERANCE, model_scale, verify_inputs
from falsr_cli.outputs import claim_output, json_kind

EXPORT_FORMATS = ("pb", "savedmodel", "tflite", "onnx")
INTERFACES = ("falsr", "y")
QUANTIZE = ("none", "fp16", "int8")

INPUT_Y = "input_image_evaluate_y"
INPUT_PBPR = "input_image_evaluate_pbpr"
PB_OUTPUT_SCOPE = "test_sr_evaluator_i1_b0_g"
PB_OUTPUT = f"{PB_OUTPUT_SCOPE}/target"
RGB_OUTPUT = "rgb"
Y_OUTPUT = "sr_y"

ONNX_EXTRA_HINT = "pip install 'falsr[onnx]'"
ONNX_OPSET = 17


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
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    validation: dict | None = None  # tflite: PSNR/SSIM of the float model and the export on a data set
    sha256: str = ""  # of the file (savedmodel: of saved_model.pb): how a later --overwrite knows it is ours

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def report_path(out: str | os.PathLike) -> Path:
    """Where the JSON report of an export to `out` goes: `<out>.json`."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def check_options(fmt: str, interface: str, quantize: str) -> None:
    """Reject unknown or meaningless combinations before any work is done."""
    if fmt not in EXPORT_FORMATS:
        raise FalsrError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if interface not in INTERFACES:
        raise FalsrError(f"unknown interface {interface!r}: use one of {', '.join(INTERFACES)}")
    if quantize not in QUANTIZE:
        raise FalsrError(f"unknown quantization {quantize!r}: use one of {', '.join(QUANTIZE)}")
    if quantize != "none" and fmt != "tflite":
        raise FalsrError(f"--quantize {quantize} applies to --format tflite only")
    if fmt == "onnx":
        require_onnx()


def require_onnx() -> None:
    """The optional ONNX extra, or a one-line error naming it."""
    import importlib.util

    missing = [m for m in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise FalsrError(f"ONNX export needs {' and '.join(missing)}, the optional extra: {ONNX_EXTRA_HINT}")


# ---- the functions that get exported ----


@dataclass
class _Traced:
    """The export function of one interface: Keras reference, concrete function and frozen graph."""

    keras_fn: Callable[..., Any]
    concrete: Any
    frozen: Any
    graph_def: Any  # frozen, pruned to the output, nodes named for the .pb
    input_names: list[str]
    output_name: str  # signature output key (savedmodel, tflite)
    pb_output: str  # node name in the .pb
    module: Any  # tf.Module tracking the model's variables (for savedmodel)


def _trace(luma_model: Any, interface: str) -> _Traced:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec_y = tf.TensorSpec([None, None, None, 1], tf.float32, name=INPUT_Y)
    if interface == "falsr":
        from falsr_cli.models.builder import build_falsr_interface

        keras_model = build_falsr_interface(luma_model)
        spec_c = tf.TensorSpec([None, None, None, 2], tf.float32, name=INPUT_PBPR)

        @tf.function(input_signature=[spec_y, spec_c])
        def serve(input_image_evaluate_y, input_image_evaluate_pbpr):
            return {
                RGB_OUTPUT: keras_model([input_image_evaluate_y, input_image_evaluate_pbpr], training=False)
            }

        @tf.function(input_signature=[spec_y, spec_c])
        def for_pb(input_image_evaluate_y, input_image_evaluate_pbpr):
            rgb = keras_model([input_image_evaluate_y, input_image_evaluate_pbpr], training=False)
            # The published output tensor name, so that the graph is a drop-in for the released files.
            with tf.name_scope(PB_OUTPUT_SCOPE):
                return tf.identity(rgb, name="target")

        inputs, output, pb_output = [INPUT_Y, INPUT_PBPR], RGB_OUTPUT, PB_OUTPUT
    else:
        keras_model = luma_model

        @tf.function(input_signature=[spec_y])
        def serve(input_image_evaluate_y):
            return {Y_OUTPUT: keras_model(input_image_evaluate_y, training=False)}

        @tf.function(input_signature=[spec_y])
        def for_pb(input_image_evaluate_y):
            return tf.identity(keras_model(input_image_evaluate_y, training=False), name=Y_OUTPUT)

        inputs, output, pb_output = [INPUT_Y], Y_OUTPUT, Y_OUTPUT

    concrete = serve.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    pb_frozen = convert_variables_to_constants_v2(for_pb.get_concrete_function())
    graph_def = _reachable_subgraph(pb_frozen.graph.as_graph_def(), pb_output)
    names = {n.name for n in graph_def.node}
    missing = [n for n in [*inputs, pb_output] if n not in names]
    if missing:  # tf.function renamed something: never write a graph with the wrong interface
        raise FalsrError(f"internal: the frozen graph lacks node(s) {', '.join(missing)}")
    module = tf.Module()
    module.model = keras_model
    module.serve = serve

    def keras_fn(*arrays: np.ndarray) -> np.ndarray:
        xs = list(arrays) if len(arrays) > 1 else arrays[0]
        return np.asarray(keras_model(xs, training=False))

    return _Traced(keras_fn, concrete, frozen, graph_def, inputs, output, pb_output, module)


# ---- writers: each writes `tmp` and returns a runner of the written artefact ----


Runner = Callable[..., np.ndarray]


def _reachable_subgraph(graph_def: Any, output: str) -> Any:
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


def _write_pb(tr: _Traced, tmp: Path) -> Runner:
    from falsr_cli.models.graphdef import FrozenGraph, read_graph_def

    tmp.write_bytes(tr.graph_def.SerializeToString())
    # Load it back from the bytes on disk, through the same vetted loader `falsr calculate` uses.
    inputs = [f"{n}:0" for n in tr.input_names]
    return FrozenGraph(read_graph_def(tmp), inputs, f"{tr.pb_output}:0", str(tmp))


def _write_savedmodel(tr: _Traced, tmp: Path) -> Runner:
    import tensorflow as tf

    tf.saved_model.save(tr.module, str(tmp), signatures={"serving_default": tr.concrete})
    signature = tf.saved_model.load(str(tmp)).signatures["serving_default"]

    def run(*arrays: np.ndarray) -> np.ndarray:
        feeds = {name: tf.constant(a) for name, a in zip(tr.input_names, arrays, strict=True)}
        return signature(**feeds)[tr.output_name].numpy()

    return run


def _write_tflite(tr: _Traced, tmp: Path, quantize: str) -> Runner:
    from falsr_cli.models.tflite import TFLiteModel, tflite_bytes

    tmp.write_bytes(tflite_bytes(tr.frozen, quantize))
    return TFLiteModel(tmp, name=tmp.name)


def _write_onnx(tr: _Traced, tmp: Path) -> Runner:
    require_onnx()
    import onnxruntime as ort
    import tf2onnx

    inputs = [f"{n}:0" for n in tr.input_names]
    try:
        model_proto, _ = tf2onnx.convert.from_graph_def(
            tr.graph_def, input_names=inputs, output_names=[f"{tr.pb_output}:0"], opset=ONNX_OPSET
        )
    except Exception as e:  # tf2onnx raises plain Exceptions for unsupported ops
        raise FalsrError(f"ONNX conversion failed: {str(e).strip().splitlines()[0]}") from None
    tmp.write_bytes(model_proto.SerializeToString())
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])

    def run(*arrays: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(inputs, arrays, strict=True)))[0]

    return run


# ---- atomic placement ----


@contextmanager
def _atomic_dir(target: Path) -> Iterator[Path]:
    """A temporary sibling folder that replaces `target` (file or folder) only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    shutil.rmtree(tmp)  # writers (tf.saved_model.save) create the folder themselves
    try:
        yield tmp
        interrupts.check()  # a swallowed interrupt stops here, before anything is renamed into place
        if target.exists():
            # Two renames: the old artefact survives until the new one is complete.
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    luma_model: Any,
    out: str | os.PathLike,
    fmt: str = "pb",
    *,
    interface: str = "falsr",
    quantize: str = "none",
    arch: Any = None,
    source: str = "",
    val: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    overwrite: bool = False,
    inputs: Sequence[str | os.PathLike] = (),
    flag: str = "--out",
) -> ExportReport:
    """Export `luma_model` ((N,h,w,1) LR luma → HR luma) to `out`; verify, write atomically, report.

    `val` (a data set name or folder of pairs) measures, for TFLite, the PSNR/SSIM of the float Keras
    model and of the export; a validation set that cannot be loaded is reported, not fatal. An existing
    `out` (or its report `<out>.json`) is replaced only with `overwrite`, and only when it is a previous
    export of the same kind; `inputs` (what the model was read from) are never written over.
    """
    start = time.perf_counter()
    out = Path(out)
    check_options(fmt, interface, quantize)
    claim_export(out, fmt, overwrite=overwrite, inputs=inputs, flag=flag)
    _check_out(out, fmt, flag)
    log = log or (lambda _msg: None)
    scale = model_scale(luma_model)
    tr = _trace(luma_model, interface)
    xs = verify_inputs(interface, scale)
    expected = tr.keras_fn(*xs)
    tolerance = QUANT_TOLERANCE[quantize] if quantize != "none" else FLOAT_TOLERANCE
    label = fmt + (f" ({quantize})" if quantize != "none" else "")

    def verify(run: Runner) -> float:
        got = np.asarray(run(*xs))
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

    validation = None
    if fmt == "savedmodel":
        with _atomic_dir(out) as tmp:
            diff = verify(_write_savedmodel(tr, tmp))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    else:
        with atomic_path(out, suffix=out.suffix) as tmp:
            if fmt == "pb":
                run = _write_pb(tr, tmp)
            elif fmt == "tflite":
                run = _write_tflite(tr, tmp, quantize)
            else:
                run = _write_onnx(tr, tmp)
            diff = verify(run)
            if fmt == "tflite" and val:
                validation = tflite_validation(luma_model, tmp, val, scale, data_dir, log)
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
        inputs=[f"{n}:0" if fmt in ("pb", "onnx") else n for n in tr.input_names],
        outputs=[f"{tr.pb_output}:0" if fmt in ("pb", "onnx") else tr.output_name],
        validation=validation,
        sha256=_export_hash(out),
    )
    write_json(report_path(out), report.to_dict())
    return report


def shape_text(xs: list[np.ndarray]) -> str:
    return " + ".join("x".join(str(d) for d in x.shape) for x in xs)


def tflite_validation(
    luma_model: Any,
    tflite_path: Path,
    val: str | os.PathLike,
    scale: int,
    data_dir: str | os.PathLike | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """PSNR/SSIM on a validation set of the float Keras model and of the exported TFLite model."""
    from falsr_cli.data.pairs import load_pairs
    from falsr_cli.models.network import keras_luma_upscaler
    from falsr_cli.models.tflite import TFLiteModel, TFLiteUpscaler
    from falsr_cli.runtime.evaluate import run_pairs, summarize

    try:
        pairs = load_pairs(val, scale=scale, data_dir=data_dir)
    except FalsrError as e:
        log(f"PSNR change not measured: validation set {val} unavailable ({e})")
        return {"dataset": str(val), "error": str(e)}
    results = {}
    for key, upscaler in (
        ("float", keras_luma_upscaler(luma_model, scale=scale, name="keras")),
        ("tflite", TFLiteUpscaler(TFLiteModel(tflite_path, name=tflite_path.name))),
    ):
        summary = summarize(run_pairs(upscaler, pairs, scale=scale, progress=False))
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
