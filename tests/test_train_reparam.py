"""`falsr train --reparam`: starts as the plain network, folds exactly; a run ships the plain one."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import load_architecture
from falsr_cli.train.config import TrainConfig

TINY = "x2-f8-res:conv_f16_k3_b2_skip,group2_f16_k3_b1_noskip,invbot_f16_k3_b1_noskip:101000"


def _lr(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((2, 11, 13, 1), np.float32)


def test_step_zero_is_the_plain_network_of_the_same_seed():
    from falsr_cli.models.builder import RepConv2D, build_luma_model

    arch = load_architecture(TINY)
    plain = build_luma_model(arch, seed=4, init="he")
    rep = build_luma_model(arch, seed=4, init="he", reparam=True)
    reps = [layer for layer in rep.layers if isinstance(layer, RepConv2D)]
    # fe, cell1's two convs, invbot's expand and project, up_conv, up_out; the grouped conv stays plain.
    assert [layer.name for layer in reps] == ["fe", "cell1_conv1", "cell1_conv2", "cell3_b1_expand",
                                              "cell3_b1_project", "up_conv", "up_out"]
    np.testing.assert_array_equal(rep(_lr()).numpy(), plain(_lr()).numpy())


def test_fold_is_exact_and_plain():
    import keras

    from falsr_cli.models.builder import RepConv2D, build_luma_model, fold_reparam

    arch = load_architecture(TINY)
    rep = build_luma_model(arch, seed=1, init="he", reparam=True)
    rng = np.random.default_rng(2)
    for layer in rep.layers:
        if isinstance(layer, RepConv2D):
            for v in (layer.squeeze, layer.edge_scale):
                v.assign(rng.normal(0, 0.1, v.shape).astype(np.float32))
    folded = fold_reparam(rep, arch)
    assert not any(isinstance(layer, RepConv2D) for layer in folded.layers)
    assert type(folded.get_layer("fe")) is keras.layers.Conv2D
    assert folded.count_params() < rep.count_params()
    a, b = rep(_lr(3)).numpy(), folded(_lr(3)).numpy()
    assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max())
    # The branches moved the function: the test would pass trivially if they were ignored.
    plain = build_luma_model(arch, seed=1, init="he")
    assert np.abs(plain(_lr(3)).numpy() - a).max() > 1e-3


def test_a_reparam_run_trains_its_branches_and_ships_the_folded_network(tmp_path):
    from falsr_cli.models.builder import RepConv2D
    from falsr_cli.train import train
    from falsr_cli.train.runs import load_trained_model
    from falsr_cli.train.trainer import build_model

    out = tmp_path / "rep"
    cfg = dict(arch=TINY, data="samples", val="samples", steps=12, out=str(out), batch=2, patch=24,
               schedule="constant", warmup=0, val_every=6, ckpt_every=6, keep=1, data_dir=str(tmp_path / "d"),
               progress=False, reparam=True)
    train(TrainConfig(**cfg))
    arch, from_ckpt = load_trained_model(out)
    _, from_file = load_trained_model(out / "model.keras")
    assert not any(isinstance(layer, RepConv2D) for layer in from_ckpt.layers)
    np.testing.assert_allclose(from_ckpt(_lr()).numpy(), from_file(_lr()).numpy(), atol=1e-5)

    import tensorflow as tf

    branches = build_model(arch, reparam=True)
    last = sorted((out / "checkpoints").glob("step_*"))[-1]
    tf.train.Checkpoint(model=branches).restore(str(last / "ckpt")).expect_partial()
    squeeze = branches.get_layer("cell1_conv1").squeeze.numpy()
    assert np.abs(squeeze).max() > 0, "the expand-squeeze branch never left its zero start"

    # The parameterisation is part of what a step computes: a resume may not change it.
    with pytest.raises(FalsrError, match="reparam"):
        train(TrainConfig(**{**cfg, "steps": 14, "reparam": False}))


def test_reparam_builds_under_bfloat16():
    from falsr_cli.train.trainer import build_model

    model = build_model(load_architecture(TINY), "bfloat16", seed=0, init="he-zero", reparam=True)
    assert model(_lr()).shape == (2, 22, 26, 1)
