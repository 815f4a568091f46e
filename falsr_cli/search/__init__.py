"""The FALSR multi-objective search: `SearchConfig`, `resolve_config` and `run_search(config)`.

Modules, pymoo-style: config (options, presets, TOML), problem (the pymoo Problem), operators (sampling,
crossover, mutation), crowding (Chu & Yu's crowding distance), controller (the RL policy), evaluator
(incomplete training, cost filter, cache), fidelity (successive halving: promotion, score correction),
workers (this process / Dask), journal (run folder, snapshots), runner (the ask/tell loop), report (front,
hypervolume, pareto.json, plots).
"""

from __future__ import annotations

from typing import Any

from falsr_cli.search.config import SearchConfig, resolve_config


def run_search(config: SearchConfig, **kwargs: Any) -> Any:
    """Run or continue the search `config` in `config.out` (see falsr_cli.search.runner.run_search)."""
    from falsr_cli.search.runner import run_search as _run

    return _run(config, **kwargs)


__all__ = ["SearchConfig", "resolve_config", "run_search"]
