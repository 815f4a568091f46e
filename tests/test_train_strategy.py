"""The multi-device path (MirroredStrategy) on two logical CPU devices, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

TINY = "x2-f8:conv_f16_k1_b1_noskip,conv_f16_k3_b1_noskip:101"
FALSR = str(Path(sys.executable).with_name("falsr"))


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from falsr_cli.space.architecture import Architecture
    from falsr_cli.train import TrainConfig, train
    from falsr_cli.train.pipeline import PatchSampler, load_luma_set
    from falsr_cli.train.trainer import Trainer, configure_determinism, make_strategy

    configure_determinism(True)
    arch = Architecture.from_text(sys.argv[1])
    images = load_luma_set("samples", 2, sys.argv[2])
    sampler = PatchSampler(images, batch=4, patch=16, seed=0)
    results = {}
    for name, devices in (("one", "auto"), ("two", "/cpu:0,/cpu:1")):
        t = Trainer(arch, batch=4, patch=16, lr=1e-3, seed=0, strategy=make_strategy(devices))
        losses = [float(t.train_step(*sampler.batch_at(i))) for i in range(4)]
        results[name] = {"replicas": t.replicas, "losses": losses,
                         "weights": [w.tolist() for w in t.model.get_weights()]}
    summary = train(TrainConfig(arch=sys.argv[1], data="samples", val=None, steps=4, out=sys.argv[3],
                                batch=4, patch=16, ckpt_every=4, devices="/cpu:0,/cpu:1",
                                data_dir=sys.argv[2], progress=False))
    results["run"] = {"devices": summary["devices"], "loss": summary["final_loss"]}
    print(json.dumps(results))
""")


def test_mirrored_strategy_on_two_cpu_devices_matches_one_device(tmp_path):
    import json

    done = subprocess.run([sys.executable, "-c", SCRIPT, TINY, str(tmp_path / "data"), str(tmp_path / "run")],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert (r["one"]["replicas"], r["two"]["replicas"], r["run"]["devices"]) == (1, 2, 2)
    # Two replicas of 2 images each sum their gradients: the same update up to float rounding.
    np.testing.assert_allclose(r["two"]["losses"], r["one"]["losses"], rtol=1e-5)
    for a, b in zip(r["one"]["weights"], r["two"]["weights"], strict=True):
        np.testing.assert_allclose(np.array(b), np.array(a), atol=1e-5)
    assert np.isfinite(r["run"]["loss"])
    assert (tmp_path / "run" / "checkpoints" / "step_000000004").is_dir()


