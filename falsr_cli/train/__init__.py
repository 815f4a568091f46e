"""Training: `TrainConfig` and `train(config)` for full runs, `brief.train_and_validate` for the search."""

from __future__ import annotations

from typing import Any

from falsr_cli.train.config import TrainConfig


def train(config: TrainConfig, **kwargs: Any) -> dict[str, Any]:
    """Train or resume the run `config.out` (see falsr_cli.train.loop.train)."""
    # Deferred: `falsr train --help` and `search --help` read train.config, which loads this package.
    from falsr_cli.train.loop import train as _train

    return _train(config, **kwargs)


__all__ = ["TrainConfig", "train"]
