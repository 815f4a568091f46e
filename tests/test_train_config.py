"""TrainConfig: validation naming the field, the learning-rate schedules, what a resume may change."""

from __future__ import annotations

import json
import math

import pytest

from falsr_cli.errors import FalsrError
from falsr_cli.train.config import TrainConfig, learning_rate, parse_factors


def test_defaults_are_the_cpu_recipe_on_held_out_validation():
    c = TrainConfig().validate()
    assert (c.batch, c.patch, c.lr, c.beta1, c.beta2, c.scale) == (16, 64, 1e-3, 0.9, 0.999, 2)
    assert (c.schedule, c.warmup_steps, c.lr_patch, c.init) == ("cosine", 100, 32, "he-zero")
    # Selection never touches a benchmark: validation is held out of the training data.
    assert (c.data, c.val) == ("T91,BSDS200-train", "BSDS200-val")


def test_default_warmup_is_a_tenth_of_a_short_run():
    assert TrainConfig(steps=30).validate().warmup_steps == 3
    assert TrainConfig(steps=30, warmup=0).warmup_steps == 0
    c = TrainConfig(steps=40)
    assert learning_rate(c, 0) == pytest.approx(1e-3 / 4) and learning_rate(c, 4) == pytest.approx(1e-3)
    assert learning_rate(c, 22) == pytest.approx(0.5e-3)  # halfway through the 36 cosine steps
    # A resumed run with another length would change the default warm-up (and the cosine): refused.
    short, longer = TrainConfig(steps=30, schedule="constant"), TrainConfig(steps=40, schedule="constant")
    assert short.differences(longer) == ["steps"]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("patch", 25, "patch: 25 is not a multiple of the scale 2"),
        ("batch", 0, "batch: must be a positive integer"),
        ("lr", float("nan"), "lr: must be a positive number"),
        ("schedule", "linear", "schedule: 'linear' is not one of"),
        ("precision", "float8", "precision: 'float8'"),
        ("warmup", 100, "warmup: 100 steps is not shorter than the run"),
        ("min_lr", 1.0, "min_lr: must be in"),
        ("scale_aug", (0.9, 1.0), "scale_aug: factors must be numbers between 0 and 1"),
        ("scale_aug", (0.8, 0.8), "scale_aug: a factor is given twice"),
    ],
)
def test_bad_values_name_the_field(field, value, match):
    c = TrainConfig(steps=100)
    setattr(c, field, value)
    with pytest.raises(FalsrError, match=match):
        c.validate()


def test_schedules():
    c = TrainConfig(lr=1e-3, steps=100, schedule="constant", warmup=10)
    assert learning_rate(c, 0) == pytest.approx(1e-4)  # (0+1)/10 of the rate
    assert learning_rate(c, 9) == pytest.approx(1e-3)
    assert learning_rate(c, 50) == 1e-3
    c = TrainConfig(lr=1e-3, steps=100, schedule="step", warmup=0, decay_every=30, decay_gamma=0.1)
    assert [learning_rate(c, i) for i in (0, 29, 30, 60, 99)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-5, 1e-6])
    assert TrainConfig(steps=100, schedule="step").step_decay_every == 50
    c = TrainConfig(lr=1e-3, min_lr=1e-5, steps=110, schedule="cosine", warmup=10)
    assert learning_rate(c, 10) == pytest.approx(1e-3)
    assert learning_rate(c, 60) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(c, 110) == pytest.approx(1e-5)


def test_resume_differences():
    a = TrainConfig(arch="FALSR-A", steps=100, schedule="constant", warmup=0)
    # Where things are written, how often, and for how long (constant schedule) may change.
    b = TrainConfig(arch="FALSR-A", steps=200, schedule="constant", warmup=0, out="elsewhere", val_every=5,
                    keep=9, resume=True)
    assert a.differences(b) == []
    assert TrainConfig(lr=2e-4).differences(TrainConfig()) == ["lr"]
    assert TrainConfig(seed=1, patch=48).differences(TrainConfig()) == ["patch", "seed"]
    # A cosine schedule spans the run: its length is part of every step.
    cosine = TrainConfig(schedule="cosine", steps=10)
    assert cosine.differences(TrainConfig(schedule="cosine", steps=20)) == ["steps"]


def test_dict_round_trip_and_unknown_keys():
    c = TrainConfig(arch="FALSR-B", lr=3e-4, val=None)
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(FalsrError, match="learning_rate: not a training option"):
        TrainConfig.from_dict({"learning_rate": 1})
    # config.json holds the factors as a list; the resumed config is the same.
    aug = TrainConfig(scale_aug=parse_factors("0.9, 0.8,0.6"))
    assert aug.scale_aug == (0.9, 0.8, 0.6)
    again = TrainConfig.from_dict(json.loads(json.dumps(aug.to_dict())))
    assert again == aug and aug.differences(again) == [] and TrainConfig().differences(aug) == ["scale_aug"]
    assert parse_factors("none") == parse_factors("") == ()
    with pytest.raises(FalsrError, match="scale_aug: 'x' is not a number"):
        parse_factors("0.9,x")


@pytest.mark.parametrize(
    ("flags", "gpus", "expected"),
    [
        (["avx2", "avx512_bf16", "avx512f", "fma"], [], "bfloat16"),  # Zen 4/5, Cooper Lake and later
        (["amx_bf16", "amx_tile", "avx2"], [], "bfloat16"),  # Sapphire Rapids
        (["avx2", "avx512f", "fma"], [], "float32"),  # AVX-512 without BF16: emulated, slower
        (["avx2", "fma"], [], "float32"),
        ([], [], "float32"),  # flags unknown
        (["avx512_bf16"], [(8, 0)], "mixed_float16"),  # the GPU decides, not the host
        (["avx512_bf16"], [(8, 6), (7, 0)], "mixed_float16"),
        (["avx2"], [(8, 0), (6, 1)], "float32"),  # one GPU without tensor cores: float32 for all
    ],
)
def test_auto_precision_follows_the_hardware(flags, gpus, expected):
    from falsr_cli.train.config import auto_precision

    assert auto_precision(flags, gpus) == expected
    assert TrainConfig(precision="auto").validate().precision == "auto"  # resolved when the run starts
