"""Recover a FALSR architecture and its weights from a published frozen graph (.pb).

Nothing is tabulated per model: the cells come from their scope names (`…/cell3/conv_f64_k3_b4_isskip_b0/…`,
the FALSR authors' naming), the connections from the graph's topology (which cell's output, or the
feature extractor's, each concatenation reads), the feature width and the scale from the shapes of the
feature extractor's kernel and the depth-to-space block size. The graph is only parsed, never executed;
graphs with ops outside the runtime allow-list (file, system, Python) are refused all the same.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.atomic import read_json
from falsr_cli.errors import FalsrError
from falsr_cli.models.graphdef import check_ops, read_graph_def
from falsr_cli.space.architecture import Architecture
from falsr_cli.space.cells import Cell

if TYPE_CHECKING:
    import keras
    from tensorflow.core.framework.graph_pb2 import GraphDef
    from tensorflow.core.framework.node_def_pb2 import NodeDef

# `<scope>/cell<i>/<cell name>` where the cell name is the published form, e.g. groupConG2_f32_k1_b1_noskip.
_CELL_SCOPE = re.compile(
    r"^(?P<scope>(?:.*/)?cell(?P<i>\d+)/(?P<cell>[A-Za-z0-9]+_f\d+_k\d+_b\d+_(?:isskip|noskip)))"
)
_WEIGHT_OPS = ("Const", "Identity")


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


@dataclass
class _Graph:
    """A GraphDef indexed by node name, with the ops this module needs."""

    nodes: dict[str, Any]

    @classmethod
    def of(cls, graph_def: GraphDef) -> _Graph:
        return cls({n.name: n for n in graph_def.node})

    def node(self, tensor: str) -> NodeDef:
        name = _node_name(tensor)
        if name not in self.nodes:
            raise FalsrError(f"graph is incomplete: node {name} is referenced but missing")
        return self.nodes[name]

    def data_inputs(self, node: NodeDef) -> list[str]:
        """Inputs that carry data (not control edges, not constants such as axes)."""
        return [i for i in node.input if not i.startswith("^") and self.node(i).op != "Const"]

    def consumers(self, name: str) -> list[Any]:
        return [n for n in self.nodes.values() if any(_node_name(i) == name for i in n.input)]

    def const(self, tensor: str) -> np.ndarray:
        """The constant behind a tensor, through Identity (`…/read`) nodes."""
        import tensorflow as tf

        node = self.node(tensor)
        while node.op == "Identity":
            node = self.node(node.input[0])
        if node.op != "Const":
            raise FalsrError(
                f"graph node {node.name} ({node.op}) is not a constant weight; is the graph frozen?"
            )
        return tf.make_ndarray(node.attr["value"].tensor)


def _cell_of(name: str) -> int | None:
    m = _CELL_SCOPE.match(name)
    return int(m["i"]) if m else None


def _producer(g: _Graph, tensor: str, fe: str) -> int:
    """Which node (0 = FE, i+1 = graph cell i) produced `tensor`: the nearest FE or cell op upstream."""
    seen, queue = set(), deque([_node_name(tensor)])
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        if name == fe:
            return 0
        cell = _cell_of(name)
        if cell is not None:
            return cell + 1
        queue.extend(_node_name(i) for i in g.data_inputs(g.nodes[name]))
    raise FalsrError(f"cannot tell which cell produces graph tensor {tensor}")


def _sources(g: _Graph, tensor: str, fe: str) -> list[int]:
    """The sources a layer input reads: the producers of a concatenation's parts, or of the one tensor."""
    node = g.node(tensor)
    if node.op in ("ConcatV2", "Concat") and _cell_of(node.name) is None:
        return [_producer(g, t, fe) for t in g.data_inputs(node)]
    return [_producer(g, tensor, fe)]


def _single_consumer(g: _Graph, name: str, op: str) -> NodeDef:
    found = [c for c in g.consumers(name) if c.op == op]
    if len(found) != 1:
        raise FalsrError(f"graph does not have the FALSR layout: expected one {op} after {name}")
    return found[0]


@dataclass
class _Parsed:
    arch: Architecture
    fe_conv: NodeDef
    up_conv: NodeDef
    expand_conv: NodeDef | None
    out_conv: NodeDef
    cell_scopes: dict[int, str]


def _parse(graph_def: GraphDef) -> tuple[_Graph, _Parsed]:
    g = _Graph.of(graph_def)
    # The feature extractor: the conv reading a placeholder with a (k, k, 1, F) kernel (the luma input).
    fe_conv = None
    for n in graph_def.node:
        if n.op == "Conv2D" and g.node(n.input[0]).op == "Placeholder" and g.const(n.input[1]).shape[2] == 1:
            fe_conv = n
            break
    if fe_conv is None:
        raise FalsrError(
            "graph does not have the FALSR layout: no feature-extractor conv on a luma placeholder"
        )
    features = int(g.const(fe_conv.input[1]).shape[3])
    fe_out = _single_consumer(g, _single_consumer(g, fe_conv.name, "BiasAdd").name, "Relu").name

    # Cells: every scope named like a FALSR cell, in graph order of their index.
    scopes: dict[int, str] = {}
    for name in g.nodes:
        m = _CELL_SCOPE.match(name)
        if m:
            i = int(m["i"])
            if scopes.setdefault(i, m["scope"]) != m["scope"]:
                raise FalsrError(f"graph has two different cells numbered {i}: {scopes[i]}, {m['scope']}")
    n = len(scopes)
    if n == 0 or sorted(scopes) != list(range(n)):
        raise FalsrError(
            f"graph does not have the published FALSR layout (cell scopes found: {sorted(scopes) or 'none'});"
            " graphs exported by falsr keep their architecture in the <file>.json written beside them"
        )
    cells = [Cell.from_text(scopes[i].rsplit("/", 1)[1]) for i in range(n)]

    # Each cell's input: the one tensor entering its scope from outside that the cell did not produce itself.
    sources: list[list[int]] = []
    for i in range(n):
        prefix = scopes[i]
        entering = {
            inp
            for node in g.nodes.values()
            if node.name.startswith(prefix)
            for inp in g.data_inputs(node)
            if not _node_name(inp).startswith(prefix) and g.node(inp).op not in _WEIGHT_OPS
        }
        entering = {t for t in entering if g.node(t).op == "ConcatV2" or _producer(g, t, fe_out) != i + 1}
        if len(entering) != 1:
            raise FalsrError(
                f"cannot find the input of graph cell {i} ({prefix}): candidates {sorted(entering)}"
            )
        sources.append(_sources(g, entering.pop(), fe_out))

    # Upsampler: conv → ReLU → add FE → [expand conv] → depth-to-space → conv to luma.
    d2s = [nd for nd in graph_def.node if nd.op == "DepthToSpace"]
    if len(d2s) != 1:
        raise FalsrError(f"graph does not have the FALSR layout: {len(d2s)} depth-to-space ops, expected 1")
    d2s = d2s[0]
    scale = int(d2s.attr["block_size"].i)
    x = g.node(d2s.input[0])
    expand_conv = None
    if x.op == "BiasAdd":  # our ×3/×4 extension: a linear conv between the residual and the shuffle
        expand_conv = g.node(x.input[0])
        x = g.node(expand_conv.input[0])
    if x.op not in ("Add", "AddV2") or fe_out not in [_node_name(i) for i in x.input]:
        raise FalsrError("graph does not have the FALSR layout: no global residual add before depth-to-space")
    relu = g.node(next(i for i in x.input if _node_name(i) != fe_out))
    up_conv = g.node(g.node(relu.input[0]).input[0])
    sources.append(_sources(g, up_conv.input[0], fe_out))
    out_conv = _single_consumer(g, d2s.name, "Conv2D")

    for t, srcs in enumerate(sources, start=1):
        if t - 1 not in srcs or len(set(srcs)) != len(srcs) or any(s >= t for s in srcs):
            where = "the upsampler" if t == n + 1 else f"cell {t - 1}"
            raise FalsrError(f"graph connections are not in the FALSR space: {where} reads nodes {srcs}")
        if srcs != sorted(srcs):
            raise FalsrError(
                f"graph concatenates the inputs of node {t} out of order ({srcs}); not supported"
            )
    arch = Architecture.from_sources(cells, sources, scale=scale, features=features)
    return g, _Parsed(arch, fe_conv, up_conv, expand_conv, out_conv, scopes)


def _parse_or_explain(graph_def: GraphDef) -> tuple[_Graph, _Parsed]:
    # Any graph may be handed in (e.g. by the upscaler, to learn a receptive field): a layout we do not
    # recognise is a FalsrError, never a stray IndexError from walking it.
    try:
        return _parse(graph_def)
    except FalsrError:
        raise
    except (IndexError, KeyError, StopIteration, TypeError, ValueError) as e:
        raise FalsrError(f"graph does not have the FALSR layout ({type(e).__name__}: {e})") from None


def architecture_from_graph_def(graph_def: GraphDef) -> Architecture:
    """The architecture of a FALSR frozen graph, from its node names and topology."""
    return _parse_or_explain(graph_def)[1].arch


def _kernel_bias(g: _Graph, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """The 4-D kernel and 1-D bias constants under a layer's name scope (`kernel`/`bias`, `W`/`b`, …)."""
    kernels, biases = [], []
    for name, node in g.nodes.items():
        if node.op == "Const" and name.startswith(prefix + "/"):
            value = g.const(name)
            (kernels if value.ndim == 4 else biases if value.ndim == 1 else []).append(value)
    if len(kernels) != 1 or len(biases) != 1:
        raise FalsrError(
            f"graph layer {prefix}: expected one kernel and one bias, found {len(kernels)}, {len(biases)}"
        )
    return kernels[0], biases[0]


def _conv_weights(g: _Graph, conv: NodeDef) -> tuple[np.ndarray, np.ndarray]:
    bias_add = _single_consumer(g, conv.name, "BiasAdd")
    return g.const(conv.input[1]), g.const(bias_add.input[1])


def load_graph_weights(model: keras.Model, graph_def: GraphDef) -> Architecture:
    """Copy a FALSR graph's weights into a luma model built for its architecture; return the architecture."""
    g, p = _parse_or_explain(graph_def)
    weights: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "fe": _conv_weights(g, p.fe_conv),
        "up_conv": _conv_weights(g, p.up_conv),
        "up_out": _conv_weights(g, p.out_conv),
    }
    if p.expand_conv is not None:
        weights["up_expand"] = _conv_weights(g, p.expand_conv)
    for i, cell in enumerate(p.arch.cells):
        scope, t = p.cell_scopes[i], i + 1
        for j in range(1, cell.blocks + 1):
            if cell.type == "invbot":
                weights[f"cell{t}_b{j}_expand"] = _kernel_bias(g, f"{scope}_b{j - 1}_conv_1")
                weights[f"cell{t}_b{j}_dw"] = _kernel_bias(g, f"{scope}_b{j - 1}depth_wise")
                weights[f"cell{t}_b{j}_project"] = _kernel_bias(g, f"{scope}_b{j - 1}_conv_2")
            else:
                weights[f"cell{t}_conv{j}"] = _kernel_bias(g, f"{scope}_b{j - 1}")
        if cell.type == "invbot":
            weights[f"cell{t}_supple"] = _kernel_bias(g, f"{scope}_conv_supple")
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            raise FalsrError(f"no weights in the graph for layer {layer.name}")
        kernel, bias = weights.pop(layer.name)
        want = [tuple(w.shape) for w in layer.weights]
        if want != [kernel.shape, bias.shape]:
            raise FalsrError(
                f"graph weights for {layer.name} have shapes {kernel.shape}, {bias.shape}; expected {want}"
            )
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    if weights:
        raise FalsrError(f"graph weights not used by the model: {sorted(weights)}")
    return p.arch


def sidecar_architecture(path: str | os.PathLike) -> Architecture | None:
    """The architecture falsr recorded beside a file it wrote: the export report `<file>.json`, else the
    model card `<stem>.json` (as in pretrained_model/); None when neither names one."""
    path = Path(path)
    for side in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if side == path or not side.is_file():
            continue
        try:
            d = read_json(side)
            spec = d.get("architecture") if isinstance(d, dict) else None
            if isinstance(spec, dict):
                return Architecture.from_dict(spec)
            if isinstance(spec, str):
                return Architecture.from_text(spec)
        except (ValueError, AttributeError, TypeError, FalsrError):
            continue
    return None


def _architecture_and_origin(graph_def: GraphDef, path: str | os.PathLike) -> tuple[Architecture, bool]:
    """(architecture, published?): from the layout of a published graph, else from falsr's JSON sidecar."""
    try:
        return architecture_from_graph_def(graph_def), True
    except FalsrError:
        arch = sidecar_architecture(path)
        if arch is None:
            raise  # the layout error: it says what the graph lacks, and where a sidecar would be read
        return arch, False


def graph_architecture(graph_def: GraphDef, path: str | os.PathLike) -> Architecture:
    """A vetted graph's architecture: from its layout if published, else from falsr's JSON beside it."""
    return _architecture_and_origin(graph_def, path)[0]


def load_exported_weights(model: keras.Model, graph_def: GraphDef) -> None:
    """Copy the weights of a graph falsr froze (constants under `…/<layer name>[_N]/…`) into `model`.

    Each Keras weight takes the one float constant of its shape inside its layer's name scope, so a
    graph that does not belong to this architecture fails here, not later with wrong numbers.
    """
    import tensorflow as tf

    g = _Graph.of(graph_def)
    floats = [name for name, node in g.nodes.items()
              if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum]
    for layer in model.layers:
        if not layer.weights:
            continue
        scope = re.compile(rf"(?:^|/){re.escape(layer.name)}(?:_\d+)?/")
        found = [g.const(name) for name in floats if scope.search(name)]
        values = []
        for w in layer.weights:
            match = [v for v in found if v.shape == tuple(w.shape)]
            if len(match) != 1:
                raise FalsrError(
                    f"graph has {len(match)} constants of shape {tuple(w.shape)} for layer {layer.name} "
                    "(expected one): it does not match the architecture recorded beside it"
                )
            values.append(match[0].astype(np.float32))
        layer.set_weights(values)


def model_from_graph_def(graph_def: GraphDef, path: str | os.PathLike) -> tuple[Architecture, Any]:
    """The architecture and a luma model (`build_luma_model`) holding the weights of a vetted graph.

    Published graphs are parsed from their layout; graphs falsr exported take their architecture from
    the JSON written beside `path` (export report or model card) and their weights from the layer scopes.
    """
    from falsr_cli.models.builder import build_luma_model

    arch, published = _architecture_and_origin(graph_def, path)
    model = build_luma_model(arch)
    (load_graph_weights if published else load_exported_weights)(model, graph_def)
    return arch, model


def import_pb(path: str | os.PathLike) -> tuple[Architecture, Any]:
    """Read a FALSR .pb: its architecture and a luma model holding its weights (`model_from_graph_def`)."""
    graph_def = read_graph_def(path)
    check_ops(graph_def, str(path))
    return model_from_graph_def(graph_def, path)


def architecture_from_pb(path: str | os.PathLike) -> Architecture:
    """Only the architecture of a FALSR .pb (parsed and vetted, no model built; else its JSON sidecar)."""
    graph_def = read_graph_def(path)
    check_ops(graph_def, str(path))
    return graph_architecture(graph_def, path)
