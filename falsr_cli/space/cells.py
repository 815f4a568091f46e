"""The micro search spaces: one cell, its compact text form, the paper's 192-cell space S and a wider one.

A cell is a type, a filter count F, a kernel size k, a number of blocks B and an in-cell skip flag. The
paper's types are `conv`, `group2`, `group4` and `invbot` (kernels 1 and 3). The text form
`conv_f64_k3_b4_skip` mirrors the node names of the published graphs (`conv_f64_k3_b4_isskip`,
`groupConG2_…`, `invertBotConE2_…`), which `Cell.from_text` also reads.

The wide space (`SPACES["wide"]`, chosen by name: `falsr search --space wide`) adds the parts of efficient
SR networks published since (all stride 1, so a network stays translation-equivariant and tiles exactly):
- `bsconv`: B blueprint-separable convs (BSRN): a 1×1 conv to F, then a k×k depthwise conv + ReLU, k 3/5/7;
- `pa`: B k×k convs + ReLU, then pixel attention (PAN): the output times sigmoid(1×1 conv F→F of itself);
- `esa`: B k×k convs + ReLU, then an enhanced-spatial-attention gate (RLFN/BSRN) at stride 1: 1×1 reduce to
  F/4, a 7×7 depthwise conv dilated 3 (a 19-pixel context, where ESA pools with strides — strides would
  make the output depend on where a tile starts) + ReLU, added to the reduced map, 1×1 back to F, sigmoid,
  times the output.
Skip (B > 1): the cell's output plus its first conv's (for `bsconv`, its first block's).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from falsr_cli.errors import FalsrError

CELL_TYPES: tuple[str, ...] = ("conv", "group2", "group4", "invbot")
WIDE_TYPES: tuple[str, ...] = ("bsconv", "pa", "esa")
ALL_TYPES: tuple[str, ...] = CELL_TYPES + WIDE_TYPES
FILTERS: tuple[int, ...] = (16, 32, 48, 64)
KERNELS: tuple[int, ...] = (1, 3)
BLOCKS: tuple[int, ...] = (1, 2, 4)
SKIPS: tuple[bool, ...] = (False, True)
# Kernel sizes of each type: the depthwise kernels of `bsconv` are cheap enough to be large.
TYPE_KERNELS: dict[str, tuple[int, ...]] = {**{t: KERNELS for t in CELL_TYPES}, "bsconv": (3, 5, 7),
                                            "pa": KERNELS, "esa": KERNELS}
# The `esa` gate: channels reduced by this factor, a depthwise kernel of this size and dilation.
ESA_REDUCTION = 4
ESA_KERNEL = 7
ESA_DILATION = 3

# Published graph names of the cell types, as written by the FALSR authors' code.
GRAPH_TYPE_NAMES: dict[str, str] = {
    "conv": "conv",
    "group2": "groupConG2",
    "group4": "groupConG4",
    "invbot": "invertBotConE2",
}
_TYPE_FROM_NAME: dict[str, str] = {
    **{v: k for k, v in GRAPH_TYPE_NAMES.items()},
    **{t: t for t in ALL_TYPES},
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
        if self.type not in ALL_TYPES:
            raise FalsrError(
                f"type: unknown cell type {self.type!r} (expected one of {', '.join(ALL_TYPES)})"
            )
        for field, value, allowed in (
            ("filters", self.filters, FILTERS),
            ("kernel", self.kernel, TYPE_KERNELS[self.type]),
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
    def gated(self) -> bool:
        """Its output is multiplied by a sigmoid gate (`pa`, `esa`)."""
        return self.type in ("pa", "esa")

    @property
    def text(self) -> str:
        return (
            f"{self.type}_f{self.filters}_k{self.kernel}_b{self.blocks}_{'skip' if self.skip else 'noskip'}"
        )

    @property
    def graph_name(self) -> str:
        """The name the published graphs give this cell, e.g. `invertBotConE2_f16_k3_b1_isskip`."""
        skip = "isskip" if self.skip else "noskip"
        name = GRAPH_TYPE_NAMES.get(self.type, self.type)
        return f"{name}_f{self.filters}_k{self.kernel}_b{self.blocks}_{skip}"

    @classmethod
    def from_text(cls, text: str) -> Cell:
        """Parse `conv_f64_k3_b4_skip` (or the graph form `groupConG2_f32_k1_b1_isskip`)."""
        m = _TEXT_RE.match(str(text).strip())
        if not m:
            raise FalsrError(f"cell {text!r} is not of the form TYPE_fF_kK_bB_skip|noskip")
        name = m["type"]
        if name not in _TYPE_FROM_NAME:
            raise FalsrError(
                f"type: unknown cell type {name!r} in {text!r} (expected one of {', '.join(ALL_TYPES)})"
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


def _cells(types: tuple[str, ...]) -> tuple[Cell, ...]:
    return tuple(Cell(t, f, k, b, s) for t in types
                 for f, k, b, s in itertools.product(FILTERS, TYPE_KERNELS[t], BLOCKS, SKIPS))


# The fixed order of S: type, then filters, kernel, blocks, skip (the genome stores indices into it).
CELL_SPACE: tuple[Cell, ...] = _cells(CELL_TYPES)
# Named spaces; "wide" keeps S's order first, so a genome of S means the same network in both.
SPACES: dict[str, tuple[Cell, ...]] = {"falsr": CELL_SPACE, "wide": CELL_SPACE + _cells(WIDE_TYPES)}
DEFAULT_SPACE = "falsr"
_INDEX: dict[str, dict[Cell, int]] = {name: {c: i for i, c in enumerate(cells)}
                                      for name, cells in SPACES.items()}


def space_cells(space: str = DEFAULT_SPACE) -> tuple[Cell, ...]:
    """The cells of a named space, in genome order; FalsrError naming the known spaces otherwise."""
    if space not in SPACES:
        raise FalsrError(f"space: {space!r} is not one of {', '.join(SPACES)}")
    return SPACES[space]


def cell_index(cell: Cell, space: str = DEFAULT_SPACE) -> int:
    """The position of `cell` in the space's cells (0..191 in S); FalsrError if the space lacks it."""
    space_cells(space)  # a clear error for an unknown name
    index = _INDEX[space]
    if cell not in index:
        raise FalsrError(f"cell {cell.text} is not in the {space!r} space (give --space wide)")
    return index[cell]
