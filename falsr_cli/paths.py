"""Where things live: the local data folder, the machine's caches, the default model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The best model falsr ships on the selection split (see the README's results): FALSR-B with the image-level
# residual, trained for 80,000 steps with scale augmentation (t291-FALSR-B-res-moon).
DEFAULT_MODEL = Path("pretrained_model") / "t291-FALSR-B-res-moon.pb"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The local data folder: `--data-dir`, else env FALSR_DATA, else ./dataset."""
    if override:
        return Path(override)
    return Path(os.environ.get("FALSR_DATA", "dataset"))


def cache_dir(data: str | os.PathLike | None = None) -> Path:
    """What falsr measured or converted on this machine (engine choice, XNNPACK conversions): under
    `<data dir>/cache` where a data folder is chosen (`--data-dir`, env FALSR_DATA), else env FALSR_CACHE,
    else `$XDG_CACHE_HOME/falsr` (`~/.cache/falsr`): never in whatever folder a command runs in."""
    if data or os.environ.get("FALSR_DATA"):
        return data_dir(data) / "cache"
    if os.environ.get("FALSR_CACHE"):
        return Path(os.environ["FALSR_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "falsr"
    try:
        return Path.home() / ".cache" / "falsr"
    except RuntimeError:  # no home folder known
        return Path(tempfile.gettempdir()) / f"falsr-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
