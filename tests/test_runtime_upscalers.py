"""Upscalers and the model loader: bicubic baseline figures, colour handling, dispatch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import runtime_graphs as rg

from falsr_cli.data import color
from falsr_cli.errors import FalsrError
from falsr_cli.models.network import SRNet
from falsr_cli.runtime.open import open_model


def _photo(h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(("name", "psnr", "ssim"), [("Set5", 33.64, 0.9292), ("Set14", 30.31, None)])
def test_bicubic_baseline_figures(benchmark_mirror: Path, name: str, psnr: float, ssim: float | None) -> None:
    """MATLAB-compatible bicubic, our scoring: the literature baseline (Set5 33.64/0.9292, Set14 30.31)."""
    from falsr_cli.runtime.evaluate import evaluate_model

    result = evaluate_model("bicubic", benchmark_mirror / name, progress=False)
    assert round(result["psnr"], 2) == psnr
    if ssim is not None:
        assert round(result["ssim"], 4) == ssim


def test_frozen_graph_and_luma_upscaler_agree(tmp_path: Path) -> None:
    """The graph's own colour stage and LumaUpscaler's numpy one give the same RGB (to float32 rounding)."""
    path = rg.write_graph(tmp_path / "tiny.pb", rg.falsr_like_graph_def())
    graph_up = SRNet.from_graph(path)
    luma_up = SRNet("nearest", 2, luma=rg.nearest_luma)
    lr = _photo()
    a, b = graph_up.upscale(lr), luma_up.upscale(lr)
    assert a.shape == b.shape == (24, 20, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.mean(a == b) > 0.97
    # Luma survives the colour round trip: grey input stays grey and exact up to truncation.
    grey = np.repeat(_photo(seed=2)[..., :1], 3, axis=-1)
    out = luma_up.upscale(grey)
    assert np.abs(out.astype(int) - rg.nearest_luma(grey[None])[0].astype(int)).max() <= 1
    assert graph_up.name == "tiny" and isinstance(graph_up, SRNet)


def test_luma_upscaler_uses_pil_bicubic_chroma() -> None:
    """Chroma comes from the PIL-bicubic-upscaled LR image, as the published graphs expect."""
    lr = _photo(seed=3)
    hr_y = color.rgb_to_ypbpr(color.pil_bicubic_resize(lr, 24, 20))[..., :1]
    out = SRNet("model", 2, luma=lambda y: hr_y[None]).upscale(lr)
    ref = color.pil_bicubic_resize(lr, 24, 20)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 2  # YPbPr round trip (128 vs 127.5)


def test_wrong_output_size_is_an_error() -> None:
    up = SRNet("identity", 2, luma=lambda y: y)
    with pytest.raises(FalsrError, match="expected x2"):
        up.upscale(_photo())
    with pytest.raises(FalsrError, match="RGB uint8"):
        SRNet.bicubic(2).upscale(np.zeros((4, 4), np.uint8))


def test_keras_luma_upscaler_traces_once_for_all_sizes() -> None:
    import keras

    inp = keras.Input((None, None, 1))
    model = keras.Model(inp, keras.layers.UpSampling2D(2)(inp))
    up = SRNet.from_keras(model, name="nearest", scale=2)
    for h, w in ((6, 5), (9, 7)):
        lr = _photo(h, w, seed=h)
        np.testing.assert_array_equal(up.upscale(lr), SRNet("model", 2, luma=rg.nearest_luma).upscale(lr))


def test_loader_dispatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert open_model("bicubic").is_bicubic
    assert open_model("Bicubic", scale=3).scale == 3
    pb = rg.write_graph(tmp_path / "net.pb", rg.falsr_like_graph_def())
    assert open_model(str(pb)).interface is not None  # the graph itself
    with pytest.raises(FalsrError, match="not found"):
        open_model(str(tmp_path / "missing.pb"))
    with pytest.raises(FalsrError, match="unknown model 'nonsense'"):
        open_model("nonsense")

    # A training-run folder goes to the training area's loader, which knows the architecture.
    run = tmp_path / "run1"
    run.mkdir()
    calls = []

    def load_trained_model(path):
        import keras

        calls.append(Path(path))
        inp = keras.Input((None, None, 1))
        return types.SimpleNamespace(scale=2), keras.Model(inp, keras.layers.UpSampling2D(2)(inp))

    import falsr_cli.runtime.open as front_door

    monkeypatch.setattr(front_door, "load_trained_model", load_trained_model)
    up = open_model(str(run))
    assert calls == [run] and up.name == "run1"
    assert up.upscale(_photo()).shape == (24, 20, 3)
    with pytest.raises(FalsrError, match="x2, but x3"):
        open_model(str(run), scale=3)

    # A .tflite file goes to the export area's runtime.
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(b"x")
    monkeypatch.setattr(SRNet, "from_tflite", classmethod(lambda cls, path, threads=None: cls.bicubic(2)))
    assert open_model(str(tfl)).is_bicubic
