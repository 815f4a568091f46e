"""Every name a benchmark script imports from falsr_cli (or from a sibling script) exists: the scripts run
only by hand, for hours, so a name moved in the package would otherwise break one unseen until its next run
(benchmarks/latency_model.py and evaluate_speed.py both were, until this test)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _imports(script: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from falsr_cli… import name` and `from sibling import name`, nested too."""
    out = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module.startswith("falsr_cli") or (BENCHMARKS / f"{node.module}.py").is_file()):
            out += [(node.module, alias.name) for alias in node.names]
    return out


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_a_benchmarks_imports_resolve(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    missing = []
    for module, name in _imports(script):
        mod = importlib.import_module(module)
        # a name is an attribute, or a submodule of a package (`from falsr_cli import atomic`)
        if not hasattr(mod, name) and not (hasattr(mod, "__path__")
                                           and importlib.util.find_spec(f"{module}.{name}") is not None):
            missing.append(f"{module}.{name}")
    assert not missing, f"{script.name} imports names that do not exist: {missing}"
