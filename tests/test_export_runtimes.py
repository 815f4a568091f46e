"""Every export run as a deployer runs it, in runtimes falsr did not write, against falsr's own output.

The matrix, for a tiny residual network (the bicubic path: upscale's default kind) and a tiny plain one:
.pb in a TF2 port of the authors' evaluation flow (tf.compat.v1 Session, their tensor names); SavedModel
through `tf.saved_model.load` and Keras 3's `TFSMLayer`; .tflite (float32, fp16, int8, and the
mobile-gpu and int8-full variants) in LiteRT; .onnx in onnxruntime and OpenCV 4's dnn. Each is called by
the names the export report documents, and must agree with falsr within one grey level (a quantized file
within its stated bound, and with falsr running that same file within one grey level).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from export_models import lively, tiny_arch, tiny_model

from falsr_cli.errors import FalsrError
from falsr_cli.export.exporter import QUANT_TOLERANCE, ExportReport, export_model

GREY = 1.0 / 255.0  # one grey level of the RGB output in [0, 1]
FIXED = (12, 10)  # the LR input size of the fixed-shape (target) exports


@functools.cache
def _models() -> dict[str, tuple]:
    from falsr_cli.models.builder import build_luma_model

    residual = tiny_arch().with_residual(True)
    return {"residual": (residual, lively(build_luma_model(residual, seed=1), 1)), "plain": tiny_model()}


@functools.cache
def _falsr_rgb(kind: str, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A test input (Y, PbPr) of one size and falsr's own (Keras) RGB output for it."""
    from falsr_cli.models.builder import build_falsr_interface

    rng = np.random.default_rng(7)
    h, w = shape
    y = rng.random((1, h, w, 1), dtype=np.float32)
    pbpr = (rng.random((1, 2 * h, 2 * w, 2), dtype=np.float32) - 0.5) * 0.4
    return y, pbpr, np.asarray(build_falsr_interface(_models()[kind][1])([y, pbpr]))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory):
    """(kind, variant) → export report; each file written once for the module."""
    folder = tmp_path_factory.mktemp("exports")
    done: dict[tuple[str, str], ExportReport] = {}

    def get(kind: str, variant: str) -> ExportReport:
        if (kind, variant) not in done:
            arch, model = _models()[kind]
            fmt, _, option = variant.partition("-")
            kwargs: dict = {"arch": arch}
            if option in ("fp16", "int8"):
                kwargs["quantize"] = option
            elif option == "full":  # int8 weights and activations: the luma network
                kwargs.update(quantize="int8-full", interface="y")
            elif option:
                kwargs.update(target=option.replace("_", "-"), input_size=FIXED)
            name = f"{kind}-{variant}" + ("" if fmt == "savedmodel" else f".{fmt}")
            done[kind, variant] = export_model(model, folder / name, fmt, **kwargs)
        return done[kind, variant]

    return get


def _grey_levels(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape
    return float(np.max(np.abs(np.asarray(got, np.float64) - want))) / GREY


KINDS = ["residual", "plain"]


@pytest.mark.parametrize("kind", KINDS)
def test_pb_in_the_authors_evaluation_flow(kind: str, exports) -> None:
    """The published calculate.py's flow, on TF2: a v1 Session on the imported graph, fed and fetched by
    the published tensor names, colour as the protocol says (skimage YPbPr, PIL bicubic chroma)."""
    import tensorflow as tf
    from PIL import Image
    from skimage.color import rgb2ypbpr

    from falsr_cli.export.graphs import tf1_problems
    from falsr_cli.runtime.open import open_model

    report = exports(kind, "pb")
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(report.path).read_bytes())
    # TensorFlow 1.x imports it: no TF 2-only op or attribute (AddV2, explicit_paddings) is left.
    assert tf1_problems(graph_def) == [] and report.tf1_problems == []
    assert not {"AddV2", "MirrorPad"} & {n.op for n in graph_def.node}
    assert not any("explicit_paddings" in n.attr for n in graph_def.node)

    lr = (np.random.default_rng(3).random((9, 13, 3)) * 255).astype(np.uint8)
    y = rgb2ypbpr(lr)[..., :1]
    up = np.asarray(Image.fromarray(lr).resize((26, 18), Image.BICUBIC))
    pbpr = rgb2ypbpr(up)[..., 1:]
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            out = session.run("test_sr_evaluator_i1_b0_g/target:0", feed_dict={
                "input_image_evaluate_y:0": y[None], "input_image_evaluate_pbpr:0": pbpr[None]})
    authors = np.clip(out[0] * 255.0, 0, 255).astype(np.uint8)
    ours = open_model(report.path).upscale(lr)  # what `falsr calculate` / `evaluate` make of the file
    assert np.abs(authors.astype(int) - ours.astype(int)).max() <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_savedmodel_in_tf_and_in_keras_tfsmlayer(kind: str, exports) -> None:
    import keras
    import tensorflow as tf

    report = exports(kind, "savedmodel")
    y, pbpr, want = _falsr_rgb(kind, (11, 14))
    (out,) = report.outputs
    signature = tf.saved_model.load(report.path).signatures["serving_default"]
    feeds = dict(zip(report.inputs, (tf.constant(y), tf.constant(pbpr)), strict=True))
    assert _grey_levels(signature(**feeds)[out].numpy(), want) <= 1
    # What Keras tells its users to do with a SavedModel, with a list and with a dict of the documented names.
    layer = keras.layers.TFSMLayer(report.path, call_endpoint="serving_default")
    assert _grey_levels(np.asarray(layer([y, pbpr])[out]), want) <= 1
    assert _grey_levels(np.asarray(layer(dict(zip(report.inputs, (y, pbpr), strict=True)))[out]), want) <= 1
    described = json.loads((Path(report.path) / "assets" / "falsr.json").read_text())
    assert described == report.metadata and described["scale"] == "2" and "YPbPr" in described["color"]


def _litert(path: str, report: ExportReport, *arrays: np.ndarray) -> np.ndarray:
    """The .tflite in LiteRT's own interpreter, through its signature, by the documented names."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    return runner(**dict(zip(report.inputs, arrays, strict=True)))[report.outputs[0]]


@pytest.mark.parametrize("kind,variant", [("residual", "tflite"), ("plain", "tflite"),
                                          ("residual", "tflite-fp16"), ("residual", "tflite-int8")])
def test_tflite_in_litert(kind: str, variant: str, exports) -> None:
    from falsr_cli.models.tflite import TFLiteModel, tflite_metadata

    report = exports(kind, variant)
    assert report.inputs == ["input_image_evaluate_y", "input_image_evaluate_pbpr"]
    assert report.outputs == ["rgb"]  # the signature's own name (it was output_0)
    y, pbpr, want = _falsr_rgb(kind, (13, 9))
    got = _litert(report.path, report, y, pbpr)
    bound = 1.0 if report.quantize == "none" else QUANT_TOLERANCE[report.quantize] / GREY
    assert _grey_levels(got, want) <= bound
    # falsr running the same file (`falsr evaluate --model x.tflite`) gives the deployer's output.
    assert _grey_levels(got, TFLiteModel(report.path)(y, pbpr)) <= 1
    content = Path(report.path).read_bytes()
    assert json.loads(tflite_metadata(content)["falsr"]) == report.metadata
    if report.quantize != "none":
        assert report.quantization["images"] == 5 and report.quantization["psnr_db"] > 30


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_in_onnxruntime_without_boolean_tensors(kind: str, exports) -> None:
    import onnx
    import onnxruntime as ort

    report = exports(kind, "onnx")
    model = onnx.shape_inference.infer_shapes(onnx.load(report.path))
    types = [v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.input]]
    types += [t.data_type for t in model.graph.initializer]
    assert onnx.TensorProto.BOOL not in types  # what OpenCV 4 refused in the symmetric padding
    assert {p.key: p.value for p in model.metadata_props} == report.metadata
    assert report.metadata["inputs"].startswith("input_image_evaluate_y:0: Nxhxwx1")
    session = ort.InferenceSession(report.path, providers=["CPUExecutionProvider"])
    for n, h, w in [(1, 13, 9), (2, 6, 17)]:  # any batch and size
        rng = np.random.default_rng(n)
        y = rng.random((n, h, w, 1), dtype=np.float32)
        pbpr = (rng.random((n, 2 * h, 2 * w, 2), dtype=np.float32) - 0.5) * 0.4
        from falsr_cli.models.builder import build_falsr_interface

        want = np.asarray(build_falsr_interface(_models()[kind][1])([y, pbpr]))
        got = session.run(report.outputs, dict(zip(report.inputs, (y, pbpr), strict=True)))[0]
        assert _grey_levels(got, want) <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_for_opencv4_in_opencv_dnn(kind: str, exports) -> None:
    import cv2

    assert cv2.__version__.startswith("4.")
    report = exports(kind, "onnx-opencv4")
    assert report.target == "opencv4" and report.unsupported_ops == [] and report.input_size == list(FIXED)
    net = cv2.dnn.readNetFromONNX(report.path)
    y, pbpr, want = _falsr_rgb(kind, FIXED)
    for name, blob in zip(report.inputs, (y, pbpr), strict=True):
        net.setInput(blob, name)
    assert _grey_levels(net.forward(), want) <= 1


def test_tflite_for_mobile_gpu_has_no_depth_to_space(exports) -> None:
    report = exports("residual", "tflite-mobile_gpu")
    assert "DEPTH_TO_SPACE" not in report.ops and "TRANSPOSE_CONV" in report.ops
    assert report.unsupported_ops == [] and report.metadata["input_size"] == "12x10"
    y, pbpr, want = _falsr_rgb("residual", FIXED)
    assert _grey_levels(_litert(report.path, report, y, pbpr), want) <= 1


def test_int8_full_runs_int8_kernels_and_reports_its_cost(exports) -> None:
    from ai_edge_litert.interpreter import Interpreter

    report = exports("residual", "tflite-full")
    assert report.outputs == ["sr_y"] and report.quantization["psnr_db"] > 25
    assert report.bytes < exports("residual", "tflite").bytes
    interpreter = Interpreter(model_path=report.path)
    # The convolutions take int8 activations (quantized once at the input), not float.
    kinds = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert np.int8 in kinds and {"QUANTIZE", "DEQUANTIZE", "CONV_2D"} <= set(report.ops)
    y, _, _ = _falsr_rgb("residual", (13, 9))
    want = np.asarray(_models()["residual"][1](y))
    assert np.max(np.abs(_litert(report.path, report, y) - want)) <= QUANT_TOLERANCE["int8-full"]


def test_depth_to_space_as_conv_transpose_is_exact() -> None:
    import tensorflow as tf

    from falsr_cli.export.graphs import depth_to_space_kernel

    x = tf.constant(np.random.default_rng(0).normal(size=(1, 5, 4, 12)).astype(np.float32))
    for s, c in [(2, 3), (3, 1)]:
        xs = x[..., : c * s * s]
        conv = tf.nn.conv2d_transpose(xs, depth_to_space_kernel(s, c), [1, 5 * s, 4 * s, c], s, "VALID")
        assert np.array_equal(conv.numpy(), tf.nn.depth_to_space(xs, s).numpy())


def test_cli_target_json_and_bad_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from falsr_cli.cli import main

    arch, model = _models()["plain"]
    arch.save(tmp_path / "tiny.json")
    model.save_weights(tmp_path / "tiny.weights.h5")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = ["export", "tiny.json", "--weights", "tiny.weights.h5"]
    res = runner.invoke(main, [*base, "-f", "savedmodel", "--target", "coreml", "--input-size", "12x10",
                               "-o", "cm", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["target"] == "coreml" and report["unsupported_ops"] == []
    assert report["input_size"] == [12, 10]
    assert report["metadata"]["architecture"] == arch.to_text() and report["outputs"] == ["rgb"]
    for args, message in [
        (["--target", "nope", "-f", "onnx", "--input-size", "8x8"], "unknown target 'nope'"),
        (["--target", "opencv4", "-f", "onnx"], "needs fixed input shapes"),
        (["--target", "opencv4", "-f", "tflite", "--input-size", "8x8"], "takes --format onnx, not tflite"),
        (["-f", "onnx", "--input-size", "12"], "expected HxW"),
        (["-f", "tflite", "--quantize", "int8-full"], "takes --interface y"),
    ]:
        res = runner.invoke(main, [*base, *args, "-o", "x.out"])
        assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output, res.output
        assert not (tmp_path / "x.out").exists()
    with pytest.raises(FalsrError, match="does not take op"):
        from falsr_cli.export import targets

        monkeypatch.setitem(targets.TARGETS, "opencv4", targets.Target(
            "opencv4", "OpenCV without Conv", {"onnx": targets.TARGETS["opencv4"].ops["onnx"] - {"Conv"}}))
        export_model(model, tmp_path / "no.onnx", "onnx", target="opencv4", input_size=(8, 8))
    assert not (tmp_path / "no.onnx").exists()
