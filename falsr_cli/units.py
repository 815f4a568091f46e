"""Quantities as people type them: counts (`100G`), durations (`40ms`), memory sizes (`512M`)."""

from __future__ import annotations

import math
import re
from typing import Any

from falsr_cli.errors import FalsrError

_SUFFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_COUNT_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)\s*$")
_MS_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ms|s|us|µs)?\s*$")
_BYTES_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$")


def _parse_quantity(value: Any, name: str, pattern: re.Pattern, units: dict[str, float], what: str,
                    examples: str) -> float | None:
    """A positive number with an optional unit suffix (`pattern` captures the number and the suffix)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FalsrError(f"{name}: expected a {what} like {examples}, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        m = pattern.match(str(value))
        if not m:
            raise FalsrError(f"{name}: {value!r} is not a {what} like {examples}")
        number = float(m[1]) * units[(m[2] or "").lower()]
    if not math.isfinite(number) or number <= 0:
        raise FalsrError(f"{name}: must be a positive {what}, got {value!r}")
    return number


def parse_count(value: Any, name: str) -> float | None:
    """`100G`, `5e10`, `1.5T`, `800M`, `300k` (or a number) → a float; None stays None."""
    return _parse_quantity(value, name, _COUNT_RE, {k.lower(): v for k, v in _SUFFIXES.items()}, "count",
                           "100G, 5e10, 1.5T, 800M or 300k")


def parse_ms(value: Any, name: str) -> float | None:
    """`40ms`, `0.04s`, `1500us` or a number (ms) → milliseconds; None stays None."""
    return _parse_quantity(value, name, _MS_RE, {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3},
                           "duration", "40ms, 0.04s or 1500us")


def parse_bytes(value: Any, name: str) -> float | None:
    """`512M`, `1.5G`, `2GB`, `800MiB` (powers of 1000; `i` of 1024) or a number of bytes; None stays None."""
    if isinstance(value, str) and "i" in value.lower():
        units = {"": 1.0, **{k.lower(): 1024.0 ** (i + 1) for i, k in enumerate("KMGT")}}
    else:
        units = {k.lower(): v for k, v in _SUFFIXES.items()}
    return _parse_quantity(value, name, _BYTES_RE, units, "memory size", "512M, 1.5G or 800MiB")


def format_count(value: float | None) -> str:
    """1.0e11 → '100G' (three significant digits)."""
    if value is None:
        return "-"
    for suffix, unit in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= unit:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.3g}"
