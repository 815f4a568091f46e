"""`falsr train`: outputs, reading weights back, exact resume after SIGKILL, bad input, NaN, brief."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from falsr_cli.atomic import read_jsonl
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import load_architecture
from falsr_cli.train.config import TrainConfig

TINY = "x2-f8:conv_f16_k1_b1_noskip,conv_f16_k3_b1_noskip:101"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def _config(out, data_dir, **kw) -> TrainConfig:
    base = {"arch": TINY, "data": "samples", "val": "samples", "steps": 30, "out": str(out), "batch": 4,
            "patch": 24, "lr": 1e-3, "schedule": "constant", "warmup": 0, "val_every": 10, "ckpt_every": 10,
            "log_every": 5, "keep": 1,
            "data_dir": str(data_dir), "progress": False}
    return TrainConfig(**{**base, **kw})


def _checkpoint_tensors(ckpt_dir) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(ckpt_dir / "ckpt"))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "OBJECT_GRAPH" not in k}


def _curve(run) -> list[tuple]:
    return [(r["step"], r["loss"], r["lr"], r.get("val_psnr"), r.get("val_ssim"))
            for r in read_jsonl(run / "metrics.jsonl")]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, data_dir):
    from falsr_cli.train import train

    out = tmp_path_factory.mktemp("runs") / "full"
    summary = train(_config(out, data_dir))
    return out, summary


def test_run_folder_holds_everything(full_run):
    from falsr_cli.space.architecture import Architecture
    from falsr_cli.train.tblog import read_scalars

    out, summary = full_run
    config = json.loads((out / "config.json").read_text())
    assert config["lr"] == 1e-3 and config["arch_hash"] == Architecture.from_text(TINY).hash()
    assert config["versions"]["tensorflow"] and len(config["data_fingerprint"]) == 16
    assert Architecture.load(out / "arch.json") == Architecture.from_text(TINY)
    records = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [5, 10, 15, 20, 25, 30]
    vals = [r["val_psnr"] for r in records if "val_psnr" in r]
    assert len(vals) == 3 and vals[-1] > vals[0] + 1.0  # it learns: +1 dB or more in 20 steps at lr 1e-3
    assert all(r["lr"] == 1e-3 and r["steps_per_s"] > 0 for r in records)
    # keep=1: the last checkpoint and the best one (by val PSNR) survive.
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    best_step = max((r for r in records if "val_psnr" in r), key=lambda r: r["val_psnr"])["step"]
    assert kept == sorted({"step_000000030", f"step_{best_step:09d}"})
    assert summary["best"]["psnr"] == max(vals) and summary["weights_from_step"] == best_step
    scalars = read_scalars(out / "tensorboard")
    assert [s for s, _ in scalars["val/psnr"]] == [10, 20, 30]
    assert scalars["val/psnr"][-1][1] == pytest.approx(vals[-1], rel=1e-6)


def test_load_trained_model_from_every_form(full_run):
    from falsr_cli.runtime.open import open_model
    from falsr_cli.train.runs import load_trained_model

    out, summary = full_run
    best = out / "checkpoints" / f"step_{summary['weights_from_step']:09d}"
    forms = [out, best, best / "ckpt.index", out / "model.keras"]
    weights = [load_trained_model(p)[1].get_weights() for p in forms]
    for w in weights[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], w, strict=True))
    last = load_trained_model(out / "checkpoints" / "step_000000030")[1].get_weights()
    assert summary["weights_from_step"] == 30 or not np.array_equal(last[0], weights[0][0])
    up = open_model(str(out))  # the `falsr evaluate --model RUN` path
    assert up.scale == 2 and up.upscale(np.zeros((6, 7, 3), np.uint8)).shape == (12, 14, 3)
    with pytest.raises(FalsrError, match="not a training run"):
        load_trained_model(out.parent)


def test_sigkill_at_any_moment_then_the_same_command_gives_identical_weights(full_run, tmp_path, data_dir):
    """The run as a command in a subprocess, SIGKILLed somewhere after step 15 (mid-step, mid-validation or
    mid-checkpoint: wherever it happens to be), then the same command again: bit for bit the uninterrupted
    run (op determinism on, same CPU kernels, data keyed by (seed, step), full optimizer state restored)."""
    ref, _ = full_run
    out = tmp_path / "killed"
    falsr = str(Path(sys.executable).with_name("falsr"))
    args = [falsr, "train", "--arch", TINY, "--data", "samples", "--val", "samples", "--steps", "30",
            "--out", str(out), "--batch", "4", "--patch", "24", "--lr", "1e-3", "--schedule", "constant",
            "--warmup", "0", "--init", "he-zero", "--val-every", "10", "--ckpt-every", "10",
            "--log-every", "5", "--keep", "1", "--data-dir", str(data_dir), "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(r["step"] >= 15 for r in read_jsonl(out / "metrics.jsonl")):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.3))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert max(r["step"] for r in read_jsonl(out / "metrics.jsonl")) < 30, "the run ended before the kill"
    # The same command again (in this process, through the same CLI entry point, to save a start-up).
    from falsr_cli.cli import main

    done = CliRunner().invoke(main, args[1:])
    assert done.exit_code == 0, done.output[-2000:]
    assert "resumed at" in done.output
    # Model, Adam moments and counters, and the whole logged curve (loss, lr, val PSNR/SSIM).
    a = _checkpoint_tensors(ref / "checkpoints" / "step_000000030")
    b = _checkpoint_tensors(out / "checkpoints" / "step_000000030")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert _curve(out) == _curve(ref)
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".tmp")]


def test_resume_refuses_a_different_command(full_run, tmp_path, data_dir):
    from falsr_cli.train import train

    out, _ = full_run
    with pytest.raises(FalsrError, match=r"holds a run with lr = 0.001 but the command line gives 0.0002"):
        train(_config(out, data_dir, lr=2e-4))
    with pytest.raises(FalsrError, match="another architecture"):
        train(_config(out, data_dir, arch="x2-f8:conv_f16_k3_b1_noskip,conv_f16_k3_b1_noskip:101"))
    with pytest.raises(FalsrError, match="--resume: no training run in"):
        train(_config(tmp_path / "new", data_dir, resume=True))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FalsrError, match="exists and is not a training run"):
        train(_config(tmp_path / "other", data_dir))
    with pytest.raises(FalsrError, match="patch: 512 is larger than every training image"):
        train(_config(tmp_path / "big", data_dir, patch=512))
    bad = tmp_path / "bad_arch.json"
    bad.write_text(json.dumps({"cells": ["conv_f20_k3_b1_skip"], "connections": [0]}))
    with pytest.raises(FalsrError, match="filters"):
        train(_config(tmp_path / "b", data_dir, arch=str(bad)))


def test_disk_full_mid_checkpoint_keeps_the_previous_one(tmp_path, data_dir, monkeypatch):
    import tensorflow as tf

    from falsr_cli.train import train
    from falsr_cli.train.runs import load_trained_model

    real_write = tf.train.Checkpoint.write
    calls = []

    def write_until_full(self, prefix, *args, **kwargs):
        calls.append(prefix)
        if len(calls) == 2:
            # Half a checkpoint lands on disk, then the disk is full.
            with open(prefix + ".data-00000-of-00001", "wb") as f:
                f.write(b"\0" * 100)
            raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}; No space left on device")
        return real_write(self, prefix, *args, **kwargs)

    monkeypatch.setattr(tf.train.Checkpoint, "write", write_until_full)
    out = tmp_path / "run"
    config = _config(out, data_dir, steps=20, val=None)
    with pytest.raises(FalsrError, match=r"checkpoint of step 20 \(.*No space left on device.*step_000000010 "
                                         r"\(step 10\) is intact"):
        train(config)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_000000010"]
    load_trained_model(out)  # the previous checkpoint is whole
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")][-1] == 20
    monkeypatch.setattr(tf.train.Checkpoint, "write", real_write)
    summary = train(config)  # space freed: the same command finishes the run
    assert summary["resumed_from"] == 10 and (out / "checkpoints" / "step_000000020").is_dir()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, data_dir, monkeypatch):
    import tensorflow as tf

    from falsr_cli.cli import main
    from falsr_cli.train.pipeline import PatchSampler
    from falsr_cli.train.runs import load_trained_model

    real = PatchSampler.batch_at

    def poisoned(self, step):
        lr, hr = real(self, step)
        return lr, tf.where(tf.cast(step, tf.int64) >= 12, hr * np.nan, hr)  # targets turn NaN at step 13

    monkeypatch.setattr(PatchSampler, "batch_at", poisoned)
    out = tmp_path / "nan"
    result = CliRunner().invoke(main, [
        "train", "--arch", TINY, "--data", "samples", "--val", "none", "--steps", "30", "--out", str(out),
        "--batch", "2", "--patch", "16", "--ckpt-every", "10", "--log-every", "5",
        "--data-dir", str(data_dir), "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: loss became nan at step 13")
    assert "step_000000010 (step 10)" in lines[-1]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_000000010"]
    _, model = load_trained_model(out)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_bfloat16_run_in_a_folder_without_checkpoints_ships_float32(tmp_path, data_dir):
    from falsr_cli.train import train
    from falsr_cli.train.runs import load_trained_model

    out = tmp_path / "bf16"
    # A run that stopped before its first checkpoint (other options): nothing to keep, so it starts afresh.
    out.mkdir()
    (out / "config.json").write_text(json.dumps(_config(out, data_dir, lr=5e-4).to_dict()))
    (out / "arch.json").write_text("{}")
    summary = train(_config(out, data_dir, steps=6, val=None, precision="bfloat16", log_every=2))
    assert summary["resumed_from"] is None and json.loads((out / "config.json").read_text())["lr"] == 1e-3
    assert np.isfinite(summary["final_loss"]) and summary["precision"] == "bfloat16"
    _, model = load_trained_model(out / "model.keras")
    assert all(w.dtype == np.float32 for w in model.get_weights())


def test_help_documents_the_defaults_and_the_papers():
    from falsr_cli.cli import main

    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    for text in ("--batch", "default: 16", "--lr", "default: 0.001", "paper: 1e-4 constant", "--patch",
                 "default: 64", "paper: 96", "default: cosine", "default: BSDS200-val", "--init", "--resume"):
        assert text in " ".join(result.output.split()), text


def test_brief_training_is_deterministic_and_reports_nan(data_dir):
    from falsr_cli.train.brief import CandidateFailed, train_and_validate

    kw = {"data": "samples", "val": "samples", "steps": 8, "seed": 3, "batch": 2, "patch": 16, "lr": 1e-3,
          "data_dir": data_dir}
    a = train_and_validate(TINY, **kw)
    b = train_and_validate(TINY, **kw)
    assert set(a) >= {"psnr", "ssim", "loss", "train_seconds", "eval_seconds"}
    assert (a["psnr"], a["ssim"], a["loss"]) == (b["psnr"], b["ssim"], b["loss"])
    assert 5 < a["psnr"] < 40 and 0 < a["ssim"] < 1
    # Validations along the way and the loss history change nothing the run computes.
    c = train_and_validate(TINY, **kw, val_at=(3, 5, 99), keep_losses=True)
    keys = ("psnr", "ssim", "loss", "loss_sum")
    assert [c[k] for k in keys] == [a[k] for k in keys]
    assert [s for s, _ in c["curve"]] == [3, 5, 8] and c["curve"][-1][1] == a["psnr"]
    assert len(c["losses"]) == 8 and sum(c["losses"]) == pytest.approx(a["loss_sum"])
    # 8 steps warm up for none (a tenth, rounded down) unless told otherwise
    warm = train_and_validate(TINY, **kw, warmup=3)
    assert warm["loss_sum"] != a["loss_sum"] and warm["psnr"] != a["psnr"]
    with pytest.raises(CandidateFailed, match="loss became (nan|inf)"):
        # (with the output conv near zero rather than at zero, a step of 1e30 overflows at once)
        train_and_validate(TINY, **{**kw, "lr": 1e30, "init": "he"})


def test_lsuv_init_fits_the_first_batch_once_and_a_resumed_run_is_the_same_run(tmp_path, data_dir):
    from falsr_cli.train import train
    from falsr_cli.train.brief import train_and_validate

    kw = {"steps": 6, "val": None, "init": "lsuv", "log_every": 2, "ckpt_every": 2, "keep": 3,
          "arch": "x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101"}
    straight = train(_config(tmp_path / "straight", data_dir, **kw))
    train(_config(tmp_path / "resumed", data_dir, **{**kw, "steps": 4}))
    resumed = train(_config(tmp_path / "resumed", data_dir, **kw))
    assert resumed["resumed_from"] == 4
    a = _checkpoint_tensors(tmp_path / "straight" / "checkpoints" / "step_000000006")
    b = _checkpoint_tensors(tmp_path / "resumed" / "checkpoints" / "step_000000006")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    he_zero = train(_config(tmp_path / "he-zero", data_dir, **{**kw, "init": "he-zero"}))
    assert he_zero["final_loss"] != straight["final_loss"]
    brief = {"data": "samples", "val": "samples", "steps": 6, "seed": 3, "batch": 2, "patch": 16,
             "data_dir": data_dir}
    lsuv = train_and_validate(kw["arch"], **brief, init="lsuv")
    assert lsuv["psnr"] != train_and_validate(kw["arch"], **brief)["psnr"]
    assert lsuv["psnr"] == train_and_validate(kw["arch"], **brief, init="lsuv")["psnr"]


def test_a_brief_run_with_a_horizon_is_the_longer_run_stopped_early(data_dir):
    from falsr_cli.train.brief import train_and_validate

    arch = "x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101"
    kw = {"data": "samples", "val": "samples", "seed": 3, "batch": 2, "patch": 16, "data_dir": data_dir,
          "init": "lsuv"}
    longer = train_and_validate(arch, **kw, steps=8, val_at=[4])
    early = train_and_validate(arch, **kw, steps=4, horizon=8)
    assert early["psnr"] == longer["curve"][0][1]
    assert early["psnr"] != train_and_validate(arch, **kw, steps=4)["psnr"]  # its own schedule ends at 0
    with pytest.raises(FalsrError, match=r"horizon: the schedule \(3 steps\) is shorter"):
        train_and_validate(arch, **kw, steps=4, horizon=3)


def test_a_brief_run_continues_from_its_checkpoint_to_the_weights_of_a_run_from_scratch(data_dir, tmp_path):
    from falsr_cli.train.brief import train_and_validate
    from falsr_cli.train.checkpoints import list_checkpoints

    arch = "x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101"
    kw = {"data": "samples", "val": "samples", "seed": 3, "batch": 2, "patch": 16, "data_dir": data_dir,
          "init": "lsuv", "horizon": 8}
    scratch = train_and_validate(arch, **kw, steps=7)
    ckpts = tmp_path / "cand"
    first = train_and_validate(arch, **kw, steps=3, checkpoint_dir=ckpts)
    assert first["continued_from"] == 0 and [c.step for c in list_checkpoints(ckpts)] == [3]
    later = train_and_validate(arch, **kw, steps=7, checkpoint_dir=ckpts)
    assert later["continued_from"] == 3 and later["psnr"] == scratch["psnr"]
    # only the new steps' losses; only the last state is kept
    assert len(train_and_validate(arch, **kw, steps=8, checkpoint_dir=ckpts, keep_losses=True)["losses"]) == 1
    assert [c.step for c in list_checkpoints(ckpts)] == [8]
    # another recipe (here the schedule) never continues this one's run
    other = train_and_validate(arch, **{**kw, "horizon": 9}, steps=8, checkpoint_dir=ckpts)
    assert other["continued_from"] == 0

def test_a_brief_run_that_ends_at_bicubic_is_trained_again_once_with_lsuv(data_dir, monkeypatch):
    from falsr_cli.train import brief
    from falsr_cli.train.brief import bicubic_of, train_and_validate

    arch = "x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101"
    kw = {"data": "samples", "val": "samples", "steps": 6, "seed": 3, "batch": 2, "patch": 16,
          "data_dir": data_dir}
    plain, lsuv = train_and_validate(arch, **kw), train_and_validate(arch, **kw, init="lsuv")
    # 6 steps from the zero output init leave a -res network at bicubic: a collapse to the test
    assert abs(plain["psnr"] - bicubic_of("samples", 2, data_dir)) < brief.STALL_MARGIN_DB
    again = train_and_validate(arch, **kw, restart=True)
    assert again["restart"] == {"psnr": plain["psnr"], "init": "he-zero"}
    assert (again["psnr"], again["loss_sum"]) == (lsuv["psnr"], lsuv["loss_sum"])
    assert "restart" not in train_and_validate(arch, **kw, init="lsuv", restart=True)
    # a network that left bicubic keeps its score
    monkeypatch.setattr(brief, "STALL_MARGIN_DB", -100.0)
    kept = train_and_validate(arch, **kw, restart=True)
    assert "restart" not in kept and kept["psnr"] == plain["psnr"]


def test_stall_test_and_the_bicubic_it_compares_with(data_dir):
    from falsr_cli.train.loop import stalled
    from falsr_cli.train.pipeline import bicubic_psnr, load_validation_set, validate_model
    from falsr_cli.train.trainer import build_model

    # band-5 with seed 1 at step 1000 (it ended 1.9 dB below seed 0), and a healthy run
    assert stalled(1000, 29.737, 29.678) and not stalled(1000, 31.663, 29.678)
    assert not stalled(500, 29.70, 29.678)  # too early to tell
    # A -res network at the zero output init is bicubic: the baseline the test compares with.
    val = load_validation_set("samples", 2, data_dir)
    model = build_model(load_architecture("x2-f8-res:conv_f16_k3_b1_skip:1"), "float32", init="he-zero")
    assert validate_model(model, val)[0] == pytest.approx(bicubic_psnr(val), abs=0.02)


def test_a_collapsed_run_starts_again_once_with_lsuv_and_ends_as_an_lsuv_run(tmp_path, data_dir, monkeypatch):
    from falsr_cli.train import loop, train

    kw = {"steps": 8, "val_every": 4, "ckpt_every": 4, "keep": 3,
          "arch": "x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101"}
    # A real collapse takes a big network and a thousand steps; here the test says "stalled" once asked.
    monkeypatch.setattr(loop, "STALL_MIN_STEPS", 8)
    monkeypatch.setattr(loop, "STALL_STEP", 4)
    asked = []
    monkeypatch.setattr(loop, "stalled",
                        lambda step, psnr, bicubic: asked.append((step, psnr, bicubic)) or True)
    notes: list[str] = []
    out = tmp_path / "run"
    summary = train(_config(out, data_dir, **kw),
                    on_event=lambda kind, d: notes.append(d["message"]) if kind == "note" else None)
    assert len(asked) == 1 and asked[0][0] == 4  # once, at the first validation from STALL_STEP
    assert summary["restart"] == {"step": 4, "val_psnr": asked[0][1], "bicubic_psnr": asked[0][2],
                                  "init": "lsuv"}
    assert any("started again from step 0 with --init lsuv" in n for n in notes)
    assert [r["step"] for r in read_jsonl(out / "collapsed-metrics.jsonl")] == [4]
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [4, 5, 8]
    # The run is then exactly an --init lsuv run, and stays one when the same command runs again.
    train(_config(tmp_path / "lsuv", data_dir, **kw, init="lsuv"))
    a = _checkpoint_tensors(out / "checkpoints" / "step_000000008")
    b = _checkpoint_tensors(tmp_path / "lsuv" / "checkpoints" / "step_000000008")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    again = train(_config(out, data_dir, **kw))
    assert again["restart"] == summary["restart"] and len(asked) == 1
    assert json.loads((out / "config.json").read_text())["init"] == "he-zero"  # as the user gave it


def test_run_seconds_add_up_every_process_from_the_metrics():
    from falsr_cli.train.runs import run_seconds

    records = [{"step": 10, "steps_per_s": 5.0}, {"step": 20, "steps_per_s": 10.0, "val_seconds": 1.5},
               {"step": 30, "steps_per_s": 2.0}]
    assert run_seconds(records) == pytest.approx(2.0 + 1.0 + 1.5 + 5.0)
    assert run_seconds([]) == 0.0


def test_auto_precision_is_resolved_and_recorded_and_kept_on_resume(tmp_path, data_dir, monkeypatch):
    from falsr_cli import machine
    from falsr_cli.train import train

    out = tmp_path / "auto"
    # This process's machine is whatever CI has: pretend it has no BF16, so auto is float32 here.
    monkeypatch.setattr(machine, "cpu_flags", lambda: ["avx2", "fma"])
    summary = train(_config(out, data_dir, steps=4, val=None, precision="auto", log_every=2, ckpt_every=2))
    assert summary["precision"] == "float32"
    assert json.loads((out / "config.json").read_text())["precision"] == "float32"
    # Resumed on a machine where auto would mean bfloat16: the run keeps the precision it started with.
    monkeypatch.setattr(machine, "cpu_flags", lambda: ["avx2", "avx512_bf16"])
    summary = train(_config(out, data_dir, steps=6, val=None, precision="auto", log_every=2, ckpt_every=2))
    assert summary["resumed_from"] == 4 and summary["precision"] == "float32"
    fresh = train(_config(tmp_path / "new", data_dir, steps=2, val=None, precision="auto", log_every=1))
    assert fresh["precision"] == "bfloat16"


def test_the_trainers_loss_is_the_batchs_mean_absolute_or_squared_error(data_dir):
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.train.pipeline import PatchSampler, load_luma_set
    from falsr_cli.train.trainer import Trainer

    arch = load_architecture("x2-f8-res:conv_f16_k3_b2_skip,conv_f16_k3_b1_noskip:101")
    lr, hr = PatchSampler(load_luma_set("samples", 2, data_dir), batch=2, patch=16, seed=0).batch_at(0)
    for loss, err in (("l1", np.abs), ("l2", np.square)):
        t = Trainer(arch, batch=2, patch=16, lr=1e-3, seed=0, init="he", loss=loss)
        expected = float(np.mean(err(t.model(lr).numpy() - hr.numpy())))
        assert float(t.train_step(lr, hr)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(FalsrError, match="loss: must be one of l1, l2, got 'l3'"):
        Trainer(arch, batch=2, patch=16, loss="l3")
