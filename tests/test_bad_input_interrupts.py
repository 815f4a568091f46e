"""Interrupts (issue 23, class 6): SIGINT and SIGTERM end every command with 130/143, one line, no traceback,
no partial file under a final name and no temporary file left — also when a library swallows the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_cli import interrupts
from falsr_cli.cli import main

# TensorFlow's C++ start-up lines (written before Python runs a line of falsr): not ours to count.
_TF_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ", "E0000 ")


def _ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(_TF_NOISE)]


def test_a_signal_during_a_tflite_export_ends_it_cleanly(tmp_path):
    """The export is stopped while its temporary file exists (TensorFlow converting): nothing is left."""
    sig, status = signal.SIGTERM, 143
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = ["export", "x2-f8:conv_f16_k3_b1_noskip:0", "--weights", "random", "--format", "tflite",
               "--val", "none", "--out", "m.tflite"]
    proc = subprocess.Popen([sys.executable, "-m", "falsr_cli", *command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, (out, err)
    assert _ours(err) == [f"interrupted ({sig.name})"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no m.tflite, no report, no .tmp


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_swallowed_interrupt_still_stops_the_write_and_the_command(tmp_path, monkeypatch, sig):
    import falsr_cli.runtime.zoo as zoo
    from falsr_cli.atomic import write_text

    real = zoo.list_models

    def swallowing(*args, **kwargs):
        # A library that catches everything, as TensorFlow's converter may: the signal's exception is lost.
        try:
            os.kill(os.getpid(), sig)
            time.sleep(1)
        except BaseException:  # noqa: BLE001 (what the library does)
            pass
        write_text(tmp_path / "late.json", "{}")  # a write after it must not land
        return real(*args, **kwargs)

    monkeypatch.setattr(zoo, "list_models", swallowing)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner().invoke(main, ["model", "list", "--json", "--data-dir", str(tmp_path / "d")])
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert result.exit_code == 128 + sig, result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == [f"interrupted ({sig.name})"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither late.json nor its temporary file


def test_an_interrupted_checkpoint_or_atomic_write_leaves_no_hidden_file(tmp_path):
    from falsr_cli.atomic import atomic_path
    from falsr_cli.train.checkpoints import CheckpointManager

    class Stopped:
        def write(self, prefix):
            Path(prefix + ".index").write_bytes(b"half")
            raise interrupts.Interrupted(signal.SIGTERM)

    manager = CheckpointManager(tmp_path / "checkpoints", Stopped())
    with pytest.raises(KeyboardInterrupt):
        manager.save(10, {})
    assert list((tmp_path / "checkpoints").iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "x.png") as tmp:
            tmp.write_bytes(b"half an image")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]
