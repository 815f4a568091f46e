"""`falsr export`: every format runs like the Keras model, with the promised interface, or fails cleanly."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from export_models import shared_tiny, shared_tiny_sr
from PIL import Image

from falsr_cli.errors import FalsrError
from falsr_cli.export import exporter
from falsr_cli.export.exporter import export_model


@pytest.fixture
def tiny():
    return shared_tiny()


def _keras_rgb(model, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
    from falsr_cli.models.builder import build_falsr_interface

    return np.asarray(build_falsr_interface(model)([y, pbpr]))


def _inputs(n: int, h: int, w: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random((n, h, w, 1), dtype=np.float32)
    return y, (rng.random((n, 2 * h, 2 * w, 2), dtype=np.float32) - 0.5) * 0.4


def test_pb_has_the_published_interface_and_dynamic_shapes(tiny, tmp_path: Path) -> None:
    from falsr_cli.models.graphdef import load_falsr_graph, read_graph_def

    arch, model = tiny
    report = export_model(model, tmp_path / "m.pb", "pb", arch=arch)
    assert report.max_abs_diff <= 1e-5 and report.inputs == [
        "input_image_evaluate_y:0", "input_image_evaluate_pbpr:0"
    ] and report.outputs == ["test_sr_evaluator_i1_b0_g/target:0"]  # fmt: skip
    nodes = {n.name: n.op for n in read_graph_def(tmp_path / "m.pb").node}
    assert nodes["input_image_evaluate_y"] == nodes["input_image_evaluate_pbpr"] == "Placeholder"
    assert "test_sr_evaluator_i1_b0_g/target" in nodes
    graph = load_falsr_graph(tmp_path / "m.pb")  # the vetted loader `falsr calculate` uses
    for n, h, w in [(1, 9, 14), (3, 20, 11)]:
        y, pbpr = _inputs(n, h, w)
        assert np.abs(graph(y, pbpr) - _keras_rgb(model, y, pbpr)).max() <= 1e-5
    saved = json.loads((tmp_path / "m.pb.json").read_text())
    assert saved["architecture"] == arch.to_dict() and saved["max_abs_diff"] == report.max_abs_diff
    # `falsr upscale --model m.pb` runs the graph itself and knows its receptive field from the report.
    from falsr_cli.cost.cost_model import receptive_field
    from falsr_cli.runtime.open import open_model

    sr = open_model(tmp_path / "m.pb")
    assert sr.interface is not None and sr.scale == 2 and sr.receptive_field == receptive_field(arch)


def test_y_interface_and_savedmodel_signature(tiny, tmp_path: Path) -> None:
    import tensorflow as tf

    from falsr_cli.models.graphdef import FrozenGraph, read_graph_def

    arch, model = tiny
    export_model(model, tmp_path / "y.pb", "pb", interface="y")
    graph = FrozenGraph(read_graph_def(tmp_path / "y.pb"), ["input_image_evaluate_y:0"], "sr_y:0")
    y, pbpr = _inputs(2, 7, 12)
    assert np.abs(graph(y) - np.asarray(model(y))).max() <= 1e-5
    # `falsr evaluate --model y.pb` runs it as a luma network, as the Keras model itself would run.
    from falsr_cli.models.network import SRNet
    from falsr_cli.runtime.open import open_model

    lr = (np.random.default_rng(4).random((9, 11, 3)) * 255).astype(np.uint8)
    up = open_model(str(tmp_path / "y.pb"))
    assert up.scale == 2 and up.name == "y"
    diff = np.abs(up.upscale(lr).astype(int) - SRNet.from_keras(model).upscale(lr).astype(int))
    assert diff.max() <= 1  # uint8 output; float differences of 1e-6 may cross a rounding boundary
    with pytest.raises(FalsrError, match="x2, but x3"):
        open_model(str(tmp_path / "y.pb"), scale=3)

    export_model(model, tmp_path / "sm", "savedmodel")
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    _, kwargs = signature.structured_input_signature
    assert sorted(kwargs) == ["input_image_evaluate_pbpr", "input_image_evaluate_y"]
    assert kwargs["input_image_evaluate_y"].shape.as_list() == [None, None, None, 1]
    assert list(signature.structured_outputs) == ["rgb"]
    out = signature(input_image_evaluate_y=tf.constant(y), input_image_evaluate_pbpr=tf.constant(pbpr))["rgb"]
    assert np.abs(out.numpy() - _keras_rgb(model, y, pbpr)).max() <= 1e-5


def test_tflite_float_fp16_int8_resize_and_evaluate(tiny, tmp_path: Path) -> None:
    from falsr_cli.models.network import SRNet
    from falsr_cli.models.tflite import TFLiteModel
    from falsr_cli.runtime.evaluate import evaluate_model
    from falsr_cli.runtime.open import open_model

    arch, model = tiny
    val = tmp_path / "val"
    val.mkdir()
    hr = np.random.default_rng(0).integers(0, 256, (32, 36, 3), dtype=np.uint8)
    Image.fromarray(hr).save(val / "img_001_SRF_2_HR.png")
    Image.fromarray(hr).resize((18, 16), Image.BICUBIC).save(val / "img_001_SRF_2_LR.png")
    reports = {}
    for q in ("none", "fp16", "int8"):
        reports[q] = export_model(model, tmp_path / f"{q}.tflite", "tflite", quantize=q, arch=arch, val=val)
        assert reports[q].max_abs_diff <= exporter.QUANT_TOLERANCE.get(q, 1e-5)
        change = reports[q].validation
        assert change["images"] == 1 and np.isfinite(change["psnr_change"])
    assert reports["none"].max_abs_diff <= 1e-5 and abs(reports["none"].validation["psnr_change"]) < 1e-3
    assert reports["int8"].bytes < reports["fp16"].bytes < reports["none"].bytes

    lite = TFLiteModel(tmp_path / "none.tflite")
    assert lite.interface == "falsr" and lite.scale == 2
    for n, h, w in [(1, 5, 9), (2, 13, 8)]:  # resize-input-tensor: any batch and size
        y, pbpr = _inputs(n, h, w)
        assert np.abs(lite(y, pbpr) - _keras_rgb(model, y, pbpr)).max() <= 1e-5
    # `falsr evaluate --model x.tflite` goes through the runtime loader.
    upscaler = open_model(str(tmp_path / "none.tflite"))
    assert np.array_equal(upscaler.upscale(hr[:16, :18]), SRNet.from_keras(model).upscale(hr[:16, :18]))
    result = evaluate_model(str(tmp_path / "none.tflite"), val, progress=False, engine="tf")
    assert result["engine"] == "xnnpack"  # a .tflite runs in TFLite whatever --engine says, and says so
    assert result["psnr"] == pytest.approx(reports["none"].validation["tflite"]["psnr"], abs=1e-9)
    from falsr_cli.runtime.open import open_model

    assert open_model(tmp_path / "int8.tflite").receptive_field == shared_tiny_sr().receptive_field


def test_failures_leave_nothing_behind(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arch, model = tiny
    target = tmp_path / "m.pb"
    target.write_bytes(b"previous export")
    # Its report, naming its hash: what makes it a previous export that --overwrite may replace.
    report = {"format": "pb", "interface": "falsr", "quantize": "none", "path": str(target), "bytes": 15,
              "max_abs_diff": 0.0, "tolerance": 1e-5,
              "sha256": hashlib.sha256(b"previous export").hexdigest()}
    exporter.report_path(target).write_text(json.dumps(report))
    monkeypatch.setattr(exporter, "FLOAT_TOLERANCE", -1.0)  # any difference now exceeds the bound
    with pytest.raises(FalsrError, match="differs from the Keras model by .* nothing was written"):
        export_model(model, target, "pb", overwrite=True)
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pb", "m.pb.json"]
    with pytest.raises(FalsrError, match="applies to --format tflite only"):
        export_model(model, tmp_path / "q.pb", "pb", quantize="int8")
    with pytest.raises(FalsrError, match="is a folder"):
        export_model(model, tmp_path, "pb")

    # A missing extra: one line naming it.
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == "tf2onnx" else real(m, *a))
    with pytest.raises(FalsrError, match=r"pip install 'falsr\[onnx\]'"):
        export_model(model, tmp_path / "m.onnx", "onnx")


def test_cli_export(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from falsr_cli.cli import main

    arch, model = tiny
    arch.save(tmp_path / "tiny.json")
    model.save_weights(tmp_path / "tiny.weights.h5")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["export", "tiny.json", "--weights", "tiny.weights.h5", "-o", "t.pb"])
    assert res.exit_code == 0, res.output
    assert "max abs diff" in res.output and (tmp_path / "t.pb").is_file()
    res = runner.invoke(main, ["export", "tiny.json", "-o", "u.pb"])
    assert res.exit_code == 1 and "--weights" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "u.pb").exists()


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, on the deliberately wrong weights
def test_model_forms(tiny, tmp_path: Path) -> None:
    """A training run folder (its model.keras), an architecture + weights, and what is refused."""
    from falsr_cli.runtime.open import open_model
    from falsr_cli.space.architecture import Architecture

    arch, model = tiny
    run = tmp_path / "run"
    run.mkdir()
    arch.save(run / "arch.json")
    (run / "config.json").write_text("{}")
    model.save(run / "model.keras")
    y = np.random.default_rng(1).random((1, 6, 7, 1), dtype=np.float32)
    keras_file = str(run / "model.keras")
    for spec, weights in [(run, None), (run / "model.keras", None), (run / "arch.json", keras_file)]:
        loaded = open_model(str(spec), weights, engine="keras")
        assert loaded.arch == arch
        assert np.array_equal(np.asarray(loaded.keras(y)), np.asarray(model(y)))
    assert open_model(str(run / "arch.json"), "random", engine="keras").arch == arch
    wider = tmp_path / "wider.json"
    Architecture(arch.cells, arch.connections, features=12).save(wider)
    for spec, weights, message in [
        (str(tmp_path / "m.tflite"), None, "cannot export from m.tflite"),
        ("FALSR-B-res", None, "without weights"),  # a preset, not a model name (FALSR-B is the graph)
        ("no-such-model", None, "is none of"),
        (str(wider), str(tmp_path / "missing.weights.h5"), "weights file not found"),
        (str(wider), keras_file, "cannot load weights"),
    ]:
        with pytest.raises(FalsrError, match=message):
            open_model(spec, weights, engine="keras")


@pytest.mark.parametrize("interface", ["falsr", "y"])
def test_exported_graphs_import_again_from_their_json(interface: str, tmp_path: Path) -> None:
    """A .pb falsr wrote is a MODEL again (re-export, `arch from-pb`): architecture from the JSON beside
    it (export report, else a model card), weights from the graph, checked against the graph."""
    from export_models import lively

    from falsr_cli.models.builder import build_luma_model
    from falsr_cli.models.pb_import import architecture_from_pb
    from falsr_cli.runtime.open import open_model
    from falsr_cli.space.architecture import Architecture

    # All three cell families, so conv, grouped and depthwise weights are found by their scopes.
    cells = ["invbot_f16_k3_b2_skip", "group2_f16_k1_b1_noskip", "conv_f16_k3_b1_skip"]
    arch = Architecture.from_sources(cells, [[0], [0, 1], [1, 2], [0, 3]], features=8)
    model = lively(build_luma_model(arch, seed=3), seed=3)
    pb = tmp_path / "mine.pb"
    export_model(model, pb, "pb", interface=interface, arch=arch)
    y = np.random.default_rng(2).random((1, 11, 9, 1), dtype=np.float32)

    loaded = open_model(pb, engine="keras")
    assert loaded.arch == arch and architecture_from_pb(pb) == arch
    assert np.abs(np.asarray(loaded.keras(y)) - np.asarray(model(y))).max() <= 1e-6

    report = Path(f"{pb}.json")
    report.rename(tmp_path / "report.json")
    with pytest.raises(FalsrError, match="published FALSR layout"):
        open_model(pb, engine="keras")  # no JSON beside it: nothing says what the graph is
    card = tmp_path / "mine.json"
    card.write_text(json.dumps({"architecture": arch.to_text()}))  # a model card, as in pretrained_model/
    assert np.abs(np.asarray(open_model(pb, engine="keras").keras(y)) - np.asarray(model(y))).max() <= 1e-6

    # A card naming another network with the same weight shapes (a skip switched off) is caught.
    no_skip = (dataclasses.replace(arch.cells[0], skip=False), *arch.cells[1:])
    card.write_text(json.dumps({"architecture": dataclasses.replace(arch, cells=no_skip).to_text()}))
    with pytest.raises(FalsrError, match="does not reproduce it"):
        open_model(pb, engine="keras")
    # One naming different shapes fails on the weights themselves.
    card.write_text(json.dumps({"architecture": dataclasses.replace(arch, features=12).to_text()}))
    with pytest.raises(FalsrError, match="does not match the architecture"):
        open_model(pb, engine="keras")
