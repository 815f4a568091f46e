"""The paper's ×2 comparison table, shipped as package data (`published.json`): the reference points of
falsr's plots and reports. Production code never reads the reference folder the tests use."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def published_figures() -> dict[str, Any]:
    """{"about": …, "models": {name: {"mult_adds", "params", "Set5": [psnr, ssim], …}}}."""
    text = resources.files("falsr_cli.data").joinpath("published.json").read_text(encoding="utf-8")
    return json.loads(text)
