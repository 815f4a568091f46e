"""Where things live: the local data folder and the read-only reference data."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The local data folder: `--data-dir`, else env FALSR_DATA, else ./dataset."""
    if override:
        return Path(override)
    return Path(os.environ.get("FALSR_DATA", "dataset"))


def shared_dir() -> Path:
    """The reference data folder (tests, benchmarks): env FALSR_SHARED, else ../shared."""
    return Path(os.environ.get("FALSR_SHARED", "../shared"))
