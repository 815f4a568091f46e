"""The image-level residual: MATLAB bicubic in plain tensor ops, recorded in every form, kept by exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_models import lively

from falsr_cli.data.imresize import imresize
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import PRESETS, Architecture, load_architecture, preset_names


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_layer_is_matlab_imresize_including_borders(scale):
    from falsr_cli.models.builder import BicubicUpsample

    x = np.random.default_rng(scale).random((11, 16))
    want = imresize(x, scale)  # float in, float out: MATLAB's bicubic without rounding
    got = BicubicUpsample(scale)(x[None, :, :, None].astype(np.float32)).numpy()[0, :, :, 0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-6


def test_residual_is_recorded_in_json_text_and_hash():
    b = PRESETS["FALSR-B"]
    r = load_architecture("FALSR-B-res")
    assert r == b.with_residual() and r.residual and not b.residual
    assert "residual" not in b.to_dict()  # older files and hashes of the published networks stay valid
    assert r.to_dict()["residual"] is True
    assert Architecture.from_dict(json.loads(r.to_json())) == r
    assert r.to_text().startswith("x2-f32-res:") and Architecture.from_text(r.to_text()) == r
    assert Architecture.from_text(b.to_text()) == b and r.hash() != b.hash()
    assert r.with_scale(3).residual and r.with_residual(False) == b
    assert "FALSR-C-res" in preset_names()
    with pytest.raises(FalsrError, match="x2-f32 or x2-f32-res"):
        Architecture.from_text(b.to_text().replace("x2-f32", "x2-f32-big"))
    with pytest.raises(FalsrError, match="residual: 'yes' is not true or false"):
        Architecture.from_dict({**b.to_dict(), "residual": "yes"})


def test_residual_costs_its_fixed_filter_and_no_parameters():
    from falsr_cli.cost.cost_model import mult_adds, params

    b, r = PRESETS["FALSR-B"], load_architecture("FALSR-B-res")
    assert params(r) == params(b)
    assert mult_adds(r) - mult_adds(b) == 480 * 480 * 5 * 5 * 4
    assert mult_adds(r.with_scale(3)) - mult_adds(b.with_scale(3)) == 480 * 480 * 5 * 5 * 9


def test_an_untrained_residual_network_is_bicubic_and_learns_the_difference():
    from falsr_cli.models.builder import build_luma_model

    arch = Architecture.from_sources(["conv_f16_k3_b1_noskip"], [[0], [0, 1]], features=8, residual=True)
    model = build_luma_model(arch, seed=0)
    assert model.count_params() == build_luma_model(arch.with_residual(False), seed=0).count_params()
    out = model.get_layer("up_out")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    x = np.random.default_rng(0).random((1, 9, 12, 1)).astype(np.float32)
    assert np.abs(model(x).numpy()[0, :, :, 0] - imresize(x[0, :, :, 0].astype(np.float64), 2)).max() < 1e-6


@pytest.mark.slow
def test_residual_networks_export_to_pb_and_tflite_and_load_back(tmp_path):
    from falsr_cli.export.exporter import export_model
    from falsr_cli.models.builder import build_luma_model
    from falsr_cli.runtime.open import open_model

    arch = Architecture.from_sources(["conv_f16_k3_b1_noskip"], [[0], [0, 1]], features=8, residual=True)
    model = lively(build_luma_model(arch, seed=1), seed=1)
    lr = np.random.default_rng(3).integers(0, 256, (10, 13, 3), dtype=np.uint8)
    for fmt, name in (("pb", "m.pb"), ("tflite", "m.tflite")):
        report = export_model(model, tmp_path / name, fmt, arch=arch, val=None)
        assert report.max_abs_diff <= 1e-5, fmt
        saved = json.loads((tmp_path / f"{name}.json").read_text())
        assert Architecture.from_dict(saved["architecture"]) == arch
    sr_pb = open_model(str(tmp_path / "m.pb")).upscale(lr)
    sr_tflite = open_model(str(tmp_path / "m.tflite")).upscale(lr)
    assert sr_pb.shape == (20, 26, 3)
    assert np.abs(sr_pb.astype(int) - sr_tflite.astype(int)).max() <= 1
