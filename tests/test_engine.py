"""The XNNPACK engine: same images as TensorFlow, conversion cached by content, interpreters reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falsr_cli.errors import FalsrError
from falsr_cli.models import engine as E
from falsr_cli.models.engine import keras_luma_fn
from falsr_cli.models.latency import random_luma_model
from falsr_cli.models.network import SRNet
from falsr_cli.space.architecture import load_architecture

ARCH = "x2-f32-res:conv_f16_k3_b2_skip,invbot_f16_k1_b1_noskip,group2_f16_k3_b1_noskip:111111"


@pytest.fixture(scope="module")
def model():
    return random_luma_model(load_architecture(ARCH))


def test_xnnpack_matches_tensorflow(model, tmp_path: Path) -> None:
    fn = E.TFLiteModel(E.cached_tflite(model, tmp_path), num_threads=1)
    tf_fn = keras_luma_fn(model)
    rng = np.random.default_rng(0)
    for shape in [(1, 17, 23, 1), (1, 32, 32, 1), (1, 5, 40, 1), (1, 17, 23, 1), (1, 9, 9, 1), (1, 12, 7, 1)]:
        y = rng.random(shape, dtype=np.float32)
        assert np.abs(fn(y) - tf_fn(y)).max() < 1e-4, shape
    assert len(fn._by_shape) == 4  # at most four allocated; older shapes were resized, not re-created
    lr = rng.integers(0, 256, (13, 19, 3), dtype=np.uint8)
    a = SRNet("xnnpack", 2, luma=fn).upscale(lr).astype(int)
    b = SRNet("tf", 2, luma=tf_fn).upscale(lr).astype(int)
    assert np.abs(a - b).max() <= 1 and (a != b).mean() < 0.01  # a grey level at a rounding edge at most


def test_conversion_is_cached_by_content(model, tmp_path: Path) -> None:
    first = E.cached_tflite(model, tmp_path)
    files = list((tmp_path / "cache" / "tflite").glob("*.tflite"))
    # The entry: its key and the content's hash, then the .tflite (a swapped or damaged one is remade).
    assert len(files) == 1 and files[0].read_bytes().endswith(first) and files[0].stem.encode() in \
        files[0].read_bytes()[:64]
    assert E.cached_tflite(model, tmp_path) == first  # read back, not converted again
    other = random_luma_model(load_architecture(ARCH))
    other.set_weights([w + 1.0 for w in other.get_weights()])
    assert E.model_digest(other) != E.model_digest(model)


def test_auto_is_measured_once_per_machine(tmp_path: Path) -> None:
    choice = E.faster_cpu_engine(tmp_path)
    assert choice["choice"] in ("tf", "xnnpack") and choice["tf_ms"] > 0 and choice["xnnpack_ms"] > 0
    tf_clearly_faster = choice["tf_ms"] < E.TF_MARGIN * choice["xnnpack_ms"]
    assert choice["choice"] == ("tf" if tf_clearly_faster else "xnnpack")
    cached = list((tmp_path / "cache").glob("engine-*.json"))
    assert len(cached) == 1
    assert E.resolve_engine("auto", tmp_path) == choice["choice"]
    with pytest.raises(FalsrError, match="--engine 'fast'"):
        E.resolve_engine("fast")


def _open_in_fresh_process(pb: Path, data: Path) -> dict:
    """open_model(pb, engine=xnnpack) in a new interpreter: where it came from, whether TensorFlow loaded."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json, sys; from falsr_cli.runtime.open import open_model; "
            f"n = open_model({str(pb)!r}, engine='xnnpack'); "
            "print(json.dumps({'source': n.source, 'tf': 'tensorflow' in sys.modules, "
            "'rf': n.receptive_field, 'scale': n.scale, 'arch': n.arch.to_text()}))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "FALSR_DATA": str(data), "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_a_converted_graph_opens_again_without_tensorflow(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from falsr_cli.cli import main
    from falsr_cli.runtime.open import open_model

    pb = tmp_path / "tiny.pb"
    r = CliRunner().invoke(main, ["export", ARCH, "--weights", "random", "--format", "pb", "--out", str(pb)])
    assert r.exit_code == 0, r.output
    data = tmp_path / "data"
    first = _open_in_fresh_process(pb, data)
    assert first["tf"] and "imported graph" in first["source"]
    again = _open_in_fresh_process(pb, data)
    assert not again["tf"] and "cached" in again["source"]
    assert {k: again[k] for k in ("rf", "scale", "arch")} == {k: first[k] for k in ("rf", "scale", "arch")}

    # The cached conversion upscales as the graph does (XNNPACK against TensorFlow: a grey level at most).
    lr = np.random.default_rng(1).integers(0, 256, (21, 17, 3), dtype=np.uint8)
    monkeypatch.setenv("FALSR_DATA", str(data))
    cached = open_model(pb, engine="xnnpack")
    assert "cached" in cached.source
    graph = open_model(pb, engine="tf")
    assert np.abs(cached.upscale(lr).astype(int) - graph.upscale(lr).astype(int)).max() <= 1

    # A damaged entry is passed over: the graph is imported and converted again.
    for entry in (data / "cache" / "tflite").glob("pb-*.tflite"):
        entry.write_bytes(entry.read_bytes()[:-100])
    assert "imported graph" in _open_in_fresh_process(pb, data)["source"]
    assert "cached" in _open_in_fresh_process(pb, data)["source"]


def test_a_graphs_float_y_export_beside_it_is_its_conversion(tmp_path: Path, monkeypatch) -> None:
    """`<stem>.y.tflite` exported from this very .pb (its sha256 in the file's description) opens the .pb
    in XNNPACK on the first run, without TensorFlow; one from another .pb, or quantized, does not."""
    from click.testing import CliRunner

    from falsr_cli.cli import main
    from falsr_cli.runtime.open import open_model

    pb, other = tmp_path / "tiny.pb", tmp_path / "other.pb"
    for out in (pb, other):
        r = CliRunner().invoke(main, ["export", ARCH, "--weights", "random", "--format", "pb", "--out",
                                      str(out)])
        assert r.exit_code == 0, r.output
    sibling = tmp_path / "tiny.y.tflite"
    r = CliRunner().invoke(main, ["export", str(pb), "--format", "tflite", "--interface", "y", "--out",
                                  str(sibling), "--val", "none"])
    assert r.exit_code == 0, r.output
    first = _open_in_fresh_process(pb, tmp_path / "data")
    assert not first["tf"] and f"exported: {sibling}" in first["source"] and first["arch"] == ARCH
    monkeypatch.setenv("FALSR_DATA", str(tmp_path / "data"))
    lr = np.random.default_rng(2).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    graph = open_model(pb, engine="tf")
    assert np.abs(open_model(pb, engine="xnnpack").upscale(lr).astype(int)
                  - graph.upscale(lr).astype(int)).max() <= 1

    # Another graph's export under its name is not taken for its conversion.
    (tmp_path / "other.y.tflite").write_bytes(sibling.read_bytes())
    assert "imported graph" in _open_in_fresh_process(other, tmp_path / "data")["source"]


def test_xnnpack_int8_is_asked_for_by_name(model, tmp_path: Path, monkeypatch) -> None:
    """`--engine xnnpack-int8`: its own conversion (kept beside the float one, several times smaller), a
    .pb's shipped float sibling not taken for it, output near TensorFlow's; a .tflite is refused."""
    from click.testing import CliRunner

    from falsr_cli.cli import main
    from falsr_cli.runtime.open import open_model

    float_bytes = E.cached_tflite(model, tmp_path)
    int8_bytes = E.cached_tflite(model, tmp_path, engine="xnnpack-int8")
    assert len(int8_bytes) < 0.6 * len(float_bytes)
    assert len(list((tmp_path / "cache" / "tflite").glob("*-int8.tflite"))) == 1

    pb = tmp_path / "tiny.pb"
    assert CliRunner().invoke(main, ["export", ARCH, "--weights", "random", "--format", "pb", "--out",
                                     str(pb)]).exit_code == 0
    y = tmp_path / "tiny.y.tflite"
    assert CliRunner().invoke(main, ["export", str(pb), "--format", "tflite", "--interface", "y", "--out",
                                     str(y), "--val", "none"]).exit_code == 0
    monkeypatch.setenv("FALSR_DATA", str(tmp_path / "data"))
    int8 = open_model(pb, engine="xnnpack-int8")
    assert int8.runtime == "tflite" and "exported" not in int8.source
    assert "exported" in open_model(pb, engine="xnnpack").source
    lr = np.random.default_rng(3).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    diff = np.abs(int8.upscale(lr).astype(int) - open_model(pb, engine="tf").upscale(lr).astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.05  # measured: 1 and 0.002
    assert "cached" in open_model(pb, engine="xnnpack-int8").source  # converted once, kept under its key
    with pytest.raises(FalsrError, match="runs as it was exported"):
        open_model(y, engine="xnnpack-int8")
