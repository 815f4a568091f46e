"""The Keras builder: shapes, layer structure, initialisation, the colour stage, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.space.architecture import PRESETS, Architecture
from falsr_cli.space.cells import Cell


@pytest.fixture(scope="module")
def tiny() -> Architecture:
    cells = [Cell("group2", 16, 3, 2, True), Cell("invbot", 16, 1, 2, True), Cell("conv", 16, 1, 1, False)]
    return Architecture.from_sources(cells, [[0], [0, 1], [2], [0, 1, 3]], features=8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape_per_scale(tiny, scale):
    from falsr_cli.models.builder import build_luma_model

    m = build_luma_model(tiny.with_scale(scale), seed=0)
    out = m(np.random.default_rng(0).random((2, 5, 7, 1), dtype=np.float32))
    assert out.shape == (2, 5 * scale, 7 * scale, 1)
    assert ("up_expand" in [la.name for la in m.layers]) == (scale != 2)


def test_initialisation_and_seed(tiny):
    from falsr_cli.models.builder import build_luma_model

    a, b = build_luma_model(tiny, seed=7), build_luma_model(tiny, seed=7)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    big = build_luma_model(PRESETS["FALSR-A"], seed=1)
    kernels = np.concatenate(
        [w.ravel() for w in big.weights if w.name.endswith("kernel") for w in [w.numpy()]]
    )
    biases = [w.numpy() for w in big.weights if w.name.endswith("bias")]
    assert abs(kernels.std() - 0.02) < 0.001 and abs(kernels.mean()) < 0.001
    assert all(not b.any() for b in biases)
    # Distinct layers of equal shape get distinct draws even when seeded.
    assert not np.array_equal(
        big.get_layer("cell3_conv2").kernel.numpy(), big.get_layer("cell3_conv3").kernel.numpy()
    )


def test_he_zero_differs_from_he_only_in_the_output_conv_of_a_residual_network():
    """A residual network starts exactly at its bicubic path; every other weight is He's draw."""
    from falsr_cli.models.builder import build_luma_model

    arch = PRESETS["FALSR-B"].with_residual(True)
    he, zero = build_luma_model(arch, seed=3, init="he"), build_luma_model(arch, seed=3, init="he-zero")
    for a, b in zip(he.layers, zero.layers, strict=True):
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            if a.name == "up_out" and wa.ndim == 4:
                assert wa.std() > 0 and not wb.any()
            else:
                np.testing.assert_array_equal(wa, wb)
    x = np.random.default_rng(0).random((1, 12, 10, 1)).astype(np.float32)
    from falsr_cli.data.imresize import imresize

    np.testing.assert_allclose(zero(x).numpy()[0, ..., 0], imresize(x[0, ..., 0].astype(np.float64), 2),
                               atol=1e-5)
    assert np.abs(he(x).numpy() - zero(x).numpy()).max() > 1e-4
    # Without the residual path (where zero measured slower) he-zero is he.
    plain = PRESETS["FALSR-B"]
    for wa, wb in zip(build_luma_model(plain, seed=3, init="he").get_weights(),
                      build_luma_model(plain, seed=3, init="he-zero").get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_lsuv_scales_every_conv_to_the_batch_and_still_starts_at_bicubic():
    import keras

    from falsr_cli.data.imresize import imresize
    from falsr_cli.models.builder import LSUV_RMS, build_luma_model, lsuv_rescale

    arch = PRESETS["FALSR-B"].with_residual(True)
    x = np.random.default_rng(0).random((2, 12, 10, 1)).astype(np.float32)

    def rms(model):
        convs = [c for c in model.layers if isinstance(c, keras.layers.Conv2D) and c.name != "up_out"]
        outs = keras.Model(model.input, [c.output for c in convs])(x)
        return {c.name: float(np.sqrt(np.mean(np.square(o)))) for c, o in zip(convs, outs, strict=True)}

    model = build_luma_model(arch, seed=3, init="lsuv")  # built as he-zero
    before = rms(model)
    assert before["up_conv"] > 10 * LSUV_RMS  # dense concatenations and skip sums grow the scale
    lsuv_rescale(model, x)
    after = rms(model)
    assert after.keys() == before.keys() and len(after) > 20
    np.testing.assert_allclose(list(after.values()), LSUV_RMS, rtol=1e-4)
    np.testing.assert_allclose(model(x).numpy()[0, ..., 0], imresize(x[0, ..., 0].astype(np.float64), 2),
                               atol=1e-5)


def test_group_conv_equals_dense_conv_with_block_diagonal_kernel():
    """GroupConv2D must compute a grouped conv (group j: input slice j → output slice j)."""
    import tensorflow as tf

    from falsr_cli.models.builder import GroupConv2D

    rng = np.random.default_rng(1)
    layer = GroupConv2D(8, 3, padding="same", groups=4)
    x = rng.random((1, 6, 6, 12), dtype=np.float32)
    y = layer(x).numpy()
    k = layer.kernel.numpy()  # (3, 3, 3, 8)
    dense = np.zeros((3, 3, 12, 8), np.float32)
    for j in range(4):
        dense[:, :, 3 * j : 3 * j + 3, 2 * j : 2 * j + 2] = k[:, :, :, 2 * j : 2 * j + 2]
    ref = tf.nn.conv2d(x, dense, 1, "SAME").numpy() + layer.bias.numpy()
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_falsr_interface_colour_stage_matches_numpy(tiny):
    from falsr_cli.data.color import ypbpr_to_rgb255
    from falsr_cli.models.builder import build_falsr_interface, build_luma_model

    luma = build_luma_model(tiny, seed=3)
    rgb_model = build_falsr_interface(luma)
    rng = np.random.default_rng(2)
    y = rng.random((1, 4, 5, 1), dtype=np.float32)
    pbpr = rng.random((1, 8, 10, 2), dtype=np.float32) - 0.5
    got = rgb_model([y, pbpr]).numpy()
    want = ypbpr_to_rgb255(luma(y).numpy(), pbpr) / 255.0
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_saved_model_loads_back(tiny, tmp_path):
    import keras

    from falsr_cli.models.builder import build_falsr_interface, build_luma_model

    m = build_falsr_interface(build_luma_model(tiny.with_scale(3), seed=5))
    path = tmp_path / "m.keras"
    m.save(path)
    m2 = keras.models.load_model(path)
    rng = np.random.default_rng(0)
    inputs = [rng.random((1, 4, 4, 1), dtype=np.float32), rng.random((1, 12, 12, 2), dtype=np.float32) - 0.5]
    np.testing.assert_array_equal(m(inputs).numpy(), m2(inputs).numpy())
