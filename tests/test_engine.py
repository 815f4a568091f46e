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
    faster = choice["xnnpack_ms"] < E.XNNPACK_MARGIN * choice["tf_ms"]
    assert choice["choice"] == ("xnnpack" if faster else "tf")
    cached = list((tmp_path / "cache").glob("engine-*.json"))
    assert len(cached) == 1
    assert E.resolve_engine("auto", tmp_path) == choice["choice"]
    with pytest.raises(FalsrError, match="--engine 'fast'"):
        E.resolve_engine("fast")
