"""Shared fixtures: the reference data folder, skipped with a reason where it is absent."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The machine's cache (engine choice, XNNPACK conversions; paths.cache_dir) of a test session is its own:
# tests never write into the user's ~/.cache, and one session's entries are not another's.
os.environ["FALSR_CACHE"] = tempfile.mkdtemp(prefix="falsr-test-cache-")
atexit.register(shutil.rmtree, os.environ["FALSR_CACHE"], ignore_errors=True)

SHARED = Path(os.environ.get("FALSR_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")).resolve()


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data not found at {path} (set FALSR_SHARED to the shared/ folder)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    return _need(shared_dir / "reference")


@pytest.fixture(scope="session")
def benchmark_mirror(shared_dir: Path) -> Path:
    """`<NAME>/<file>` mirror of the ×2 benchmarks (Set5, Set14)."""
    return _need(shared_dir / "datasets" / "benchmark")


@pytest.fixture(scope="session")
def train_mirror(shared_dir: Path) -> Path:
    """`<NAME>/<file>` mirror of the training sets (T91, BSDS200)."""
    return _need(shared_dir / "datasets" / "train")


@pytest.fixture(scope="session")
def published(reference_dir: Path) -> dict:
    import json

    return json.loads((reference_dir / "published.json").read_text())
