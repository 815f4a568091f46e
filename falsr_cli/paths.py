"""Where things live: the local data folder, the default model."""

from __future__ import annotations

import os
from pathlib import Path

# The best model falsr ships (see the README's results): FALSR-B with the image-level residual.
DEFAULT_MODEL = Path("pretrained_model") / "t291-FALSR-B-res.pb"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The local data folder: `--data-dir`, else env FALSR_DATA, else ./dataset."""
    if override:
        return Path(override)
    return Path(os.environ.get("FALSR_DATA", "dataset"))
