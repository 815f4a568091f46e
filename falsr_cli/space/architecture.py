"""Architectures as plain data: n cells plus n(n+1)/2 connection bits, a scale and a feature width.

Nodes are numbered 0 = feature extractor (FE), 1..n = cells, n+1 = upsampler. Target t always reads
t−1; every other link s → t with t ≥ s+2 is one bit. Bits are ordered by source row s = 0..n−1 and,
within a row, by target t = s+2..n+1 ascending, so that `num_bits(n) = n(n+1)/2`.

Serialised forms: a dict/JSON (`to_dict`), a one-line text (`to_text`, e.g.
`x2-f32:conv_f64_k3_b4_skip,…:0100…`) and a genome (n indices into CELL_SPACE, then the bits).

`residual` adds an image-level path: the LR luma upscaled by MATLAB-compatible bicubic is added to the
network's output, so an untrained network starts at bicubic quality instead of near zero. It is off for
the published networks (FALSR-A/B/C are exactly the authors'); `FALSR-A-res` etc. name them with it on.
In JSON it is `"residual": true` (absent when off, so older files and hashes stay valid); in the text
form the head gains `-res` (`x2-f32-res:…`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from falsr_cli.atomic import read_json, write_text
from falsr_cli.errors import FalsrError
from falsr_cli.space.cells import CELL_TYPES, DEFAULT_SPACE, Cell, cell_index, space_cells

SCALES: tuple[int, ...] = (2, 3, 4)
FORMAT = "falsr-architecture"


def num_bits(n: int) -> int:
    """Connection bits of an n-cell architecture: n(n+1)/2."""
    return n * (n + 1) // 2


def bit_pairs(n: int) -> list[tuple[int, int]]:
    """The (source, target) link of each bit, in bit order."""
    return [(s, t) for s in range(n) for t in range(s + 2, n + 2)]


@dataclass(frozen=True)
class Architecture:
    """A FALSR-space network: cells, connection bits, upscaling factor and feature width."""

    cells: tuple[Cell, ...]
    connections: tuple[int, ...]
    scale: int = 2
    features: int = 32
    residual: bool = False

    def __post_init__(self) -> None:
        # Normalise lists to tuples so that equal architectures hash equal.
        object.__setattr__(self, "cells", tuple(self.cells))
        object.__setattr__(self, "connections", tuple(self.connections))
        if not self.cells:
            raise FalsrError("cells: an architecture needs at least one cell")
        for i, c in enumerate(self.cells):
            if not isinstance(c, Cell):
                raise FalsrError(f"cells[{i}]: {c!r} is not a Cell")
        n = len(self.cells)
        if len(self.connections) != num_bits(n):
            raise FalsrError(
                f"connections: {len(self.connections)} bits given, {n} cells need n(n+1)/2 = {num_bits(n)}"
            )
        for i, b in enumerate(self.connections):
            if isinstance(b, bool) or b not in (0, 1):
                raise FalsrError(f"connections[{i}]: {b!r} is not a bit (0 or 1)")
        object.__setattr__(self, "connections", tuple(int(b) for b in self.connections))
        if isinstance(self.scale, bool) or self.scale not in SCALES:
            raise FalsrError(f"scale: {self.scale!r} is not supported (expected one of {list(SCALES)})")
        if (
            isinstance(self.features, bool)
            or not isinstance(self.features, int)
            or not 1 <= self.features <= 1024
        ):
            raise FalsrError(f"features: {self.features!r} is not a positive integer ≤ 1024")
        if not isinstance(self.residual, bool):
            raise FalsrError(f"residual: {self.residual!r} is not true or false")
        if self.scale == 2 and self.features % 4:
            raise FalsrError(
                f"features: {self.features} must divide by 4 for ×2 (depth-to-space of the features)"
            )
        # Source lists of every target, computed once: the cost model and the builder read them often.
        srcs: list[tuple[int, ...]] = [()] + [(t - 1,) for t in range(1, n + 2)]
        for (s, t), b in zip(bit_pairs(n), self.connections, strict=True):
            if b:
                srcs[t] = srcs[t] + (s,)
        object.__setattr__(self, "_sources", tuple(tuple(sorted(x)) for x in srcs))
        for t in range(1, n + 1):
            cell = self.cells[t - 1]
            cin = self.in_channels(t)
            if cin % cell.groups:
                raise FalsrError(
                    f"cells[{t - 1}]: {cell.type} needs input channels divisible by {cell.groups} groups, "
                    f"but its sources {self.sources(t)} give {cin}"
                )

    # ---- topology --------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return len(self.cells)

    def bit(self, source: int, target: int) -> int:
        """The bit of link source → target (t ≥ s+2)."""
        n = self.n
        if not (0 <= source < n and source + 2 <= target <= n + 1):
            raise ValueError(f"no bit for link {source} → {target} with n = {n}")
        # Rows before `source` hold n, n−1, … bits; within the row the offset is target − source − 2.
        row_start = source * n - source * (source - 1) // 2
        return self.connections[row_start + target - source - 2]

    def sources(self, target: int) -> list[int]:
        """Ascending sources of node `target` (1..n+1); t−1 is always among them."""
        if not 1 <= target <= self.n + 1:
            raise ValueError(f"target {target} out of range 1..{self.n + 1}")
        return list(self._sources[target])

    def channels(self, node: int) -> int:
        """Output channels of node 0..n (FE: features; cell i: its filters)."""
        return self.features if node == 0 else self.cells[node - 1].filters

    def in_channels(self, target: int) -> int:
        """Channels of the concatenated input of node `target` (1..n+1)."""
        return sum(self.channels(s) for s in self.sources(target))

    @property
    def hr_channels(self) -> int:
        """Channels after depth-to-space, read by the last 3×3 conv (FALSR ×2: features/4 = 8)."""
        return max(self.features // 4, 1)

    # ---- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "scale": self.scale,
            "features": self.features,
            "cells": [c.to_dict() for c in self.cells],
            "connections": list(self.connections),
        }
        if self.residual:
            d["residual"] = True
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Architecture:
        """Parse and validate a dict; errors name the offending field."""
        if not isinstance(d, dict):
            raise FalsrError(f"architecture: expected an object, got {type(d).__name__}")
        if "cells" not in d:
            raise FalsrError("cells: missing")
        if not isinstance(d["cells"], list):
            raise FalsrError("cells: expected a list of cells")
        cells = []
        for i, c in enumerate(d["cells"]):
            try:
                cells.append(Cell.from_dict(c))
            except FalsrError as e:
                # Cell errors that start with their field ("filters: …") become "cells[2].filters: …".
                msg = str(e)
                sep = "." if re.match(r"^(type|filters|kernel|blocks|skip): ", msg) else ": "
                raise FalsrError(f"cells[{i}]{sep}{msg}") from None
        conns = d.get("connections")
        if conns is None:
            raise FalsrError("connections: missing")
        if isinstance(conns, str):
            conns = [int(ch) if ch in "01" else ch for ch in conns.replace(" ", "")]
        if not isinstance(conns, list | tuple):
            raise FalsrError("connections: expected a list of bits or a string of 0/1")
        return cls(tuple(cells), tuple(conns), scale=d.get("scale", 2), features=d.get("features", 32),
                   residual=d.get("residual", False))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise FalsrError(f"architecture file is not valid JSON: {e}") from None
        except RecursionError:
            raise FalsrError("architecture file: JSON nested too deeply") from None
        return cls.from_dict(d)

    def save(self, path: str | os.PathLike) -> None:
        write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Architecture:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_text(self) -> str:
        """One line: `x{scale}-f{features}[-res]:{cell},{cell},…:{bits}`."""
        bits = "".join(str(b) for b in self.connections)
        head = f"x{self.scale}-f{self.features}" + ("-res" if self.residual else "")
        return f"{head}:{','.join(c.text for c in self.cells)}:{bits}"

    @classmethod
    def from_text(cls, text: str) -> Architecture:
        parts = str(text).strip().split(":")
        if len(parts) != 3:
            raise FalsrError(f"architecture text {text!r} is not of the form xS-fF:CELL,CELL,…:BITS")
        head, cells, bits = parts
        try:
            s, f, *rest = head.split("-")
            if not (s.startswith("x") and f.startswith("f")) or rest not in ([], ["res"]):
                raise ValueError
            scale, features = int(s[1:]), int(f[1:])
        except ValueError:
            raise FalsrError(
                f"architecture text head {head!r} is not of the form x2-f32 or x2-f32-res"
            ) from None
        return cls.from_dict({"scale": scale, "features": features, "cells": cells.split(","),
                              "connections": bits, "residual": bool(rest)})

    def hash(self) -> str:
        """A stable 12-hex-digit identifier of the architecture (sha1 of `to_text`)."""
        return hashlib.sha1(self.to_text().encode("ascii")).hexdigest()[:12]

    def genome(self, space: str = DEFAULT_SPACE) -> list[int]:
        """n indices into the space's cells (CELL_SPACE for the paper's), then the n(n+1)/2 bits."""
        return [cell_index(c, space) for c in self.cells] + list(self.connections)

    @classmethod
    def from_genome(cls, genome: Any, n: int, scale: int = 2, features: int = 32,
                    residual: bool = False, space: str = DEFAULT_SPACE) -> Architecture:
        cells = space_cells(space)
        g = [int(x) for x in genome]
        if len(g) != n + num_bits(n):
            raise FalsrError(
                f"genome: length {len(g)}, expected n + n(n+1)/2 = {n + num_bits(n)} for n = {n}"
            )
        for i, idx in enumerate(g[:n]):
            if not 0 <= idx < len(cells):
                raise FalsrError(f"genome[{i}]: cell index {idx} outside 0..{len(cells) - 1}")
        return cls(tuple(cells[i] for i in g[:n]), tuple(g[n:]), scale=scale, features=features,
                   residual=residual)

    @classmethod
    def random(cls, rng: np.random.Generator, n: int = 7, scale: int = 2, features: int = 32,
               residual: bool = False, space: str = DEFAULT_SPACE) -> Architecture:
        """A uniform sample of the space (cells uniform over its cells, each bit a fair coin)."""
        cells = rng.integers(0, len(space_cells(space)), size=n)
        bits = rng.integers(0, 2, size=num_bits(n))
        return cls.from_genome([*cells.tolist(), *bits.tolist()], n, scale=scale, features=features,
                               residual=residual, space=space)

    @classmethod
    def from_sources(
        cls, cells: list[Cell | str], sources: list[list[int]], scale: int = 2, features: int = 32,
        residual: bool = False,
    ) -> Architecture:
        """Build from per-target source lists (targets 1..n+1; t−1 may be listed or not)."""
        cs = tuple(c if isinstance(c, Cell) else Cell.from_text(c) for c in cells)
        n = len(cs)
        if len(sources) != n + 1:
            raise FalsrError(f"sources: {len(sources)} lists given, expected n+1 = {n + 1}")
        for t, srcs in enumerate(sources, start=1):
            for s in srcs:
                if not 0 <= s < t:
                    raise FalsrError(f"sources[{t - 1}]: {s} cannot feed node {t}")
        bits = tuple(int(s in sources[t - 1]) for s, t in bit_pairs(n))
        return cls(cs, bits, scale=scale, features=features, residual=residual)

    @property
    def space(self) -> str:
        """The smallest named space holding every cell: "falsr" (the paper's S) or "wide"."""
        return DEFAULT_SPACE if all(c.type in CELL_TYPES for c in self.cells) else "wide"

    def with_scale(self, scale: int) -> Architecture:
        return dataclasses.replace(self, scale=scale)

    def with_residual(self, residual: bool = True) -> Architecture:
        """The same network with the image-level bicubic path switched on or off."""
        return dataclasses.replace(self, residual=bool(residual))

def _preset(cells: list[str], sources: list[list[int]]) -> Architecture:
    return Architecture.from_sources(cells, sources)


# The published networks, read off their graphs (shared/reference/FALSR-*.pb; checked by the tests).
PRESETS: dict[str, Architecture] = {
    "FALSR-A": _preset(
        [
            "conv_f64_k3_b4_skip",
            "conv_f48_k1_b1_skip",
            "conv_f64_k3_b4_skip",
            "conv_f64_k3_b4_skip",
            "conv_f64_k3_b4_skip",
            "conv_f64_k1_b4_noskip",
            "conv_f64_k3_b4_skip",
        ],
        [[0], [1], [2], [2, 3], [0, 2, 4], [5], [0, 2, 5, 6], [0, 1, 2, 3, 4, 5, 6, 7]],
    ),
    "FALSR-B": _preset(
        [
            "invbot_f16_k3_b1_skip",
            "invbot_f48_k1_b2_skip",
            "conv_f16_k1_b2_skip",
            "invbot_f32_k3_b4_noskip",
            "conv_f64_k3_b2_noskip",
            "group4_f16_k3_b4_noskip",
            "conv_f16_k3_b1_skip",
        ],
        [[0], [0, 1], [0, 1, 2], [3], [2, 3, 4], [2, 4, 5], [0, 1, 2, 6], [1, 4, 6, 7]],
    ),
    # As released: its upsampler also reads CB2 (the paper's FALSR-C does not).
    "FALSR-C": _preset(
        [
            "group2_f32_k1_b1_noskip",
            "conv_f64_k1_b4_noskip",
            "invbot_f48_k3_b4_noskip",
            "group2_f32_k1_b1_noskip",
            "group4_f32_k1_b1_skip",
            "conv_f48_k1_b4_noskip",
            "conv_f16_k3_b1_skip",
        ],
        [[0], [0, 1], [2], [1, 3], [0, 4], [0, 5], [1, 6], [0, 2, 6, 7]],
    ),
}


# `FALSR-B-res`: a published network with the image-level residual (a name of its own, not the authors').
RESIDUAL_SUFFIX = "-res"


def preset_names() -> list[str]:
    """Every name `load_architecture` takes as a preset: FALSR-A/B/C and their `-res` variants."""
    return [*PRESETS, *(f"{n}{RESIDUAL_SUFFIX}" for n in PRESETS)]


def _from_file_dict(d: Any, where: str) -> Architecture:
    # An architecture file, or any result file that holds one under "architecture" (e.g. a run summary).
    if isinstance(d, dict) and "cells" not in d and isinstance(d.get("architecture"), dict):
        d = d["architecture"]
    try:
        return Architecture.from_dict(d)
    except FalsrError as e:
        raise FalsrError(f"{where}: {e}") from None


def load_architecture(spec: str | os.PathLike | Architecture) -> Architecture:
    """A preset name (FALSR-A/B/C), an architecture .json, `pareto.json#K`, or a one-line text form."""
    if isinstance(spec, Architecture):
        return spec
    spec = str(spec)
    for name, arch in PRESETS.items():
        if spec.upper() == name:
            return arch
        if spec.upper() == f"{name}{RESIDUAL_SUFFIX}".upper():
            return arch.with_residual()
    path, _, index = spec.partition("#")
    p = Path(path)
    if index:
        if not p.is_file():
            raise FalsrError(f"{path}: no such file")
        d = read_json(p)
        front = d.get("front") if isinstance(d, dict) else None
        if not isinstance(front, list):
            raise FalsrError(f"{path}: no list under key 'front'")
        if not front:
            raise FalsrError(f"{spec}: the front in {path} is empty (no network finished training)")
        try:
            k = int(index)
            if k < 0:  # K counts members from 0; a negative one would quietly pick from the end
                raise IndexError(k)
            member = front[k]
        except (ValueError, IndexError):
            raise FalsrError(f"{spec}: index {index!r} not in 0..{len(front) - 1}") from None
        if not isinstance(member, dict) or "architecture" not in member:
            raise FalsrError(f"{spec}: front member has no 'architecture'")
        return _from_file_dict(member["architecture"], spec)
    if p.is_file():
        return _from_file_dict(read_json(p), path)
    if spec.count(":") == 2 and spec.startswith("x"):
        return Architecture.from_text(spec)
    raise FalsrError(f"{spec}: not a preset ({', '.join(preset_names())}) nor an architecture file")
