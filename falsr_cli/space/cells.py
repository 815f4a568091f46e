"""The micro search space: one FALSR cell, its compact text form, and the 192-cell space S.

A cell is a type (`conv`, `group2`, `group4`, `invbot`), a filter count F, a kernel size k, a number of
blocks B and an in-cell skip flag. The text form `conv_f64_k3_b4_skip` mirrors the node names of the
published graphs (`conv_f64_k3_b4_isskip`, `groupConG2_…`, `invertBotConE2_…`), which `Cell.from_text`
also reads.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from falsr_cli.errors import FalsrError

CELL_TYPES: tuple[str, ...] = ("conv", "group2", "group4", "invbot")
FILTERS: tuple[int, ...] = (16, 32, 48, 64)
KERNELS: tuple[int, ...] = (1, 3)
BLOCKS: tuple[int, ...] = (1, 2, 4)
SKIPS: tuple[bool, ...] = (False, True)

# Published graph names of the cell types, as written by the FALSR authors' code.
GRAPH_TYPE_NAMES: dict[str, str] = {
    "conv": "conv",
    "group2": "groupConG2",
    "group4": "groupConG4",
    "invbot": "invertBotConE2",
}
_TYPE_FROM_NAME: dict[str, str] = {
    **{v: k for k, v in GRAPH_TYPE_NAMES.items()},
    **{t: t for t in CELL_TYPES},
}

_TEXT_RE = re.compile(
    r"^(?P<type>[A-Za-z0-9]+)_f(?P<f>\d+)_k(?P<k>\d+)_b(?P<b>\d+)_(?P<skip>isskip|skip|noskip)$"
)


@dataclass(frozen=True)
class Cell:
    """One cell of the micro space; validated on construction."""

    type: str
    filters: int
    kernel: int
    blocks: int
    skip: bool

    def __post_init__(self) -> None:
        if self.type not in CELL_TYPES:
            raise FalsrError(
                f"type: unknown cell type {self.type!r} (expected one of {', '.join(CELL_TYPES)})"
            )
        for field, value, allowed in (
            ("filters", self.filters, FILTERS),
            ("kernel", self.kernel, KERNELS),
            ("blocks", self.blocks, BLOCKS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
                raise FalsrError(f"{field}: {value!r} is not in the space (expected one of {list(allowed)})")
        if not isinstance(self.skip, bool):
            raise FalsrError(f"skip: {self.skip!r} is not a boolean")

    @property
    def groups(self) -> int:
        """Convolution groups of the cell's convs: 2 or 4 for grouped cells, else 1."""
        return {"group2": 2, "group4": 4}.get(self.type, 1)

    @property
    def text(self) -> str:
        return (
            f"{self.type}_f{self.filters}_k{self.kernel}_b{self.blocks}_{'skip' if self.skip else 'noskip'}"
        )

    @property
    def graph_name(self) -> str:
        """The name the published graphs give this cell, e.g. `invertBotConE2_f16_k3_b1_isskip`."""
        skip = "isskip" if self.skip else "noskip"
        return f"{GRAPH_TYPE_NAMES[self.type]}_f{self.filters}_k{self.kernel}_b{self.blocks}_{skip}"

    @classmethod
    def from_text(cls, text: str) -> Cell:
        """Parse `conv_f64_k3_b4_skip` (or the graph form `groupConG2_f32_k1_b1_isskip`)."""
        m = _TEXT_RE.match(str(text).strip())
        if not m:
            raise FalsrError(f"cell {text!r} is not of the form TYPE_fF_kK_bB_skip|noskip")
        name = m["type"]
        if name not in _TYPE_FROM_NAME:
            raise FalsrError(
                f"type: unknown cell type {name!r} in {text!r} (expected one of {', '.join(CELL_TYPES)})"
            )
        return cls(_TYPE_FROM_NAME[name], int(m["f"]), int(m["k"]), int(m["b"]), m["skip"] != "noskip")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "filters": self.filters,
            "kernel": self.kernel,
            "blocks": self.blocks,
            "skip": self.skip,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Cell:
        """A cell from a dict (`type`, `filters`, `kernel`, `blocks`, `skip`) or its text form."""
        if isinstance(d, str):
            return cls.from_text(d)
        if not isinstance(d, dict):
            raise FalsrError(f"a cell must be an object or a text like conv_f64_k3_b4_skip, not {d!r}")
        missing = [k for k in ("type", "filters", "kernel", "blocks", "skip") if k not in d]
        if missing:
            raise FalsrError(f"{missing[0]}: missing")
        return cls(d["type"], d["filters"], d["kernel"], d["blocks"], d["skip"])

    def __str__(self) -> str:
        return self.text


# The fixed order of S: type, then filters, kernel, blocks, skip (the genome stores indices into it).
CELL_SPACE: tuple[Cell, ...] = tuple(
    Cell(t, f, k, b, s) for t, f, k, b, s in itertools.product(CELL_TYPES, FILTERS, KERNELS, BLOCKS, SKIPS)
)
_INDEX: dict[Cell, int] = {c: i for i, c in enumerate(CELL_SPACE)}


def cell_index(cell: Cell) -> int:
    """The position of `cell` in CELL_SPACE (0..191)."""
    return _INDEX[cell]
