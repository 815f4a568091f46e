"""Where things live: the local data folder."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The local data folder: `--data-dir`, else env FALSR_DATA, else ./dataset."""
    if override:
        return Path(override)
    return Path(os.environ.get("FALSR_DATA", "dataset"))
