"""Helpers of the search tests: an uninterrupted reference run, and a run SIGKILLed at a chosen moment."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from falsr_cli.atomic import read_jsonl


def reference_run(out: Path, options: dict, generations: int) -> Path:
    """Run the search of `options` in `out` to its end, in this process; `out`."""
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.runner import run_search

    result = run_search(resolve_config({**options, "out": str(out)}), quiet=True)
    assert result.generation == generations and result.front
    return out


def killed_run(args: list[str], journal: Path, until: Callable[[list[dict]], bool]) -> list[dict]:
    """Run `falsr ARGS` in a process, SIGKILL it once `until(journal's records)` holds; those records."""
    proc = subprocess.Popen([sys.executable, "-m", "falsr_cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while not until(read_jsonl(journal)):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the search did not get going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with open(journal, "a") as f:  # and, worse, as if the last record had been torn mid-write
        f.write('{"seq": 99, "hash": "0123')
    return read_jsonl(journal)
