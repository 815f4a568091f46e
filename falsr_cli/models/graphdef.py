"""Frozen TensorFlow graphs: load, vet every op against an allow-list, and run through a pruned function.

A frozen graph is a program: a GraphDef can read and write files, run Python or print. Before anything is
imported into TensorFlow, every node (also inside the function library) must be a pure tensor op.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.errors import FalsrError

if TYPE_CHECKING:
    import tensorflow as tf
    from tensorflow.core.framework.graph_pb2 import GraphDef
    from tensorflow.core.framework.node_def_pb2 import NodeDef

# The FALSR interface, as the published graphs name its nodes (tensor_name gives their outputs' names).
INPUT_Y = "input_image_evaluate_y"
INPUT_PBPR = "input_image_evaluate_pbpr"
OUTPUT_SCOPE = "test_sr_evaluator_i1_b0_g"
OUTPUT = f"{OUTPUT_SCOPE}/target"
# The luma-only form falsr exports with `--interface y`: LR Y → HR Y.
Y_OUTPUT = "sr_y"


def tensor_name(name: str) -> str:
    """A node's first output (`x` → `x:0`); a tensor name stays."""
    return name if ":" in name else f"{name}:0"

# Pure tensor ops: the union of what the three published graphs use and what our exporter emits
# (tf.function of a Keras model + convert_variables_to_constants_v2), plus close relatives that such
# models produce with other Keras/TF versions (AddV2 for Add, SplitV for Split, …). Nothing that touches
# files, the system, Python, state (variables, queues) or the outside world.
ALLOWED_OPS: frozenset[str] = frozenset(
    {
        # plumbing
        "Const", "Placeholder", "PlaceholderWithDefault", "Identity", "IdentityN", "NoOp", "StopGradient",
        # calls into the graph's own function library (the callee is vetted like the graph itself)
        "PartitionedCall", "StatefulPartitionedCall",
        # convolutions, pooling and resizing (attention gates, pooled and resized cells)
        "Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "BiasAdd", "MaxPool", "AvgPool",
        "ResizeBilinear", "ResizeNearestNeighbor",
        # element-wise arithmetic and activations
        "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "ClipByValue", "Neg",
        "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh",
        # shapes and layout
        "ConcatV2", "Split", "SplitV", "DepthToSpace", "SpaceToDepth", "Reshape", "Shape", "StridedSlice",
        "Slice", "Pack", "Unpack", "Pad", "MirrorPad", "Squeeze", "ExpandDims", "Fill", "Cast", "Transpose",
        # a dilated depthwise conv (the wide space's `esa` gate): TensorFlow runs it between these two,
        # with paddings computed from the input's shape
        "SpaceToBatchND", "BatchToSpaceND", "FloorMod",
    }
)  # fmt: skip

_CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}


def read_graph_def(path: str | os.PathLike) -> GraphDef:
    """Parse a binary frozen GraphDef; a missing file or one that is not a graph is a FalsrError."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise FalsrError(f"graph file not found: {path}")
    if path.name == "saved_model.pb":
        raise FalsrError(f"{path} is a SavedModel, not a frozen graph (make one: falsr export --format pb)")
    data = path.read_bytes()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise FalsrError(f"{path} is not a frozen TensorFlow graph (GraphDef): {e}") from None
    # Protobuf parsing is lenient: arbitrary bytes can decode into an "empty" or nameless graph.
    if not graph_def.node or any(not n.op or not n.name for n in graph_def.node):
        raise FalsrError(f"{path} is not a frozen TensorFlow graph (GraphDef): no valid nodes")
    return graph_def


def _nodes(graph_def: GraphDef) -> Iterator[tuple[str, Any]]:
    """Every NodeDef of the graph and of its function library, with where it lives."""
    for node in graph_def.node:
        yield "", node
    for fn in graph_def.library.function:
        for node in fn.node_def:
            yield f"function {fn.signature.name}: ", node


def _called_functions(node: NodeDef) -> list[str]:
    """Names of the functions a node refers to through its attributes (`f`, branches, …)."""
    names = []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names.extend(f.name for f in value.list.func)
    return names


def disallowed_ops(graph_def: GraphDef) -> list[str]:
    """Descriptions of every node that is not a pure tensor op (empty for a safe graph)."""
    library = {fn.signature.name for fn in graph_def.library.function}
    bad = []
    for where, node in _nodes(graph_def):
        if node.op not in ALLOWED_OPS and node.op not in library:
            bad.append(f"{node.op} ({where}node {node.name})")
            continue
        for callee in _called_functions(node):
            if callee not in library:
                bad.append(f"{node.op} calling undefined function {callee} ({where}node {node.name})")
    return bad


def check_ops(graph_def: GraphDef, source: str = "graph", max_bytes: int | None = None) -> None:
    """Refuse a graph with any op outside ALLOWED_OPS, naming the first offenders, or with a constant or
    fill that alone would take more than `max_bytes` (default MAX_TENSOR_BYTES)."""
    bad = disallowed_ops(graph_def)
    if bad:
        ops = sorted({b.split(" ", 1)[0] for b in bad})
        shown = "; ".join(bad[:3]) + (f"; … {len(bad) - 3} more" if len(bad) > 3 else "")
        raise FalsrError(
            f"refusing to run {source}: it contains op(s) {', '.join(ops)} that are not pure tensor ops "
            f"(file, system or Python access is not allowed in a model): {shown}"
        )
    limit = max_tensor_bytes() if max_bytes is None else max_bytes
    for where, node, size in _fixed_tensors(graph_def):
        if size > limit:
            raise FalsrError(
                f"refusing to run {source}: {node.op} node {where}{node.name} makes a tensor of "
                f"{size / 2**30:.2f} GiB, over the {limit / 2**30:.2f} GiB bound (env {MAX_TENSOR_ENV})"
            )


# A model's weights are megabytes; a frozen graph that builds a multi-GiB tensor from a few bytes (Fill of a
# huge shape, a giant constant) is an attack or a bug, refused before it runs.
MAX_TENSOR_ENV = "FALSR_MAX_TENSOR_BYTES"
_DEFAULT_MAX_TENSOR_BYTES = 2**30


def max_tensor_bytes() -> int:
    """The bound on one fixed-shape tensor of a graph: env FALSR_MAX_TENSOR_BYTES, else 1 GiB."""
    text = os.environ.get(MAX_TENSOR_ENV, "").strip()
    if not text:
        return _DEFAULT_MAX_TENSOR_BYTES
    try:
        value = int(float(text))
    except ValueError:
        raise FalsrError(f"{MAX_TENSOR_ENV}={text!r} is not a byte count") from None
    if value < 1:
        raise FalsrError(f"{MAX_TENSOR_ENV}={text!r} must be positive")
    return value


def _fixed_tensors(graph_def: GraphDef) -> Iterator[tuple[str, Any, int]]:
    """(where, node, bytes) of each Const, and of each Fill or BroadcastTo whose shape is a constant."""
    import tensorflow as tf

    consts: dict[str, Any] = {}
    for where, node in _nodes(graph_def):
        if node.op == "Const":
            consts[where + node.name] = node
            t = node.attr["value"].tensor
            dims = [d.size for d in t.tensor_shape.dim]
            try:
                itemsize = tf.dtypes.as_dtype(t.dtype).size
            except (TypeError, ValueError):
                itemsize = 8  # strings and the like: counted as pointers, their bytes are in the file
            yield where, node, int(np.prod(dims, dtype=np.float64)) * itemsize
    for where, node in _nodes(graph_def):
        # Fill(dims, value) and BroadcastTo(input, shape) take their output shape from an input.
        index = {"Fill": 0, "BroadcastTo": 1}.get(node.op)
        if index is None or len(node.input) <= index:
            continue
        shape_node = consts.get(where + node.input[index].lstrip("^").split(":")[0])
        if shape_node is None:
            continue
        try:
            dims = tf.make_ndarray(shape_node.attr["value"].tensor).reshape(-1)
        except (TypeError, ValueError):
            continue
        itemsize = tf.dtypes.as_dtype(node.attr["T"].type or 1).size
        yield where, node, int(np.prod(np.maximum(dims, 0), dtype=np.float64)) * itemsize


# What a network of the FALSR space holds per LR pixel in its widest tensor is at most a few thousand bytes
# (FALSR-A: 480 channels of float32); a tensor may take this much per input pixel, or MAX_TENSOR_BYTES.
BYTES_PER_INPUT_PIXEL = 16384


def check_allocation(graph_def: GraphDef, input_shapes: dict[str, Sequence[int]], source: str = "graph",
                     max_bytes: int | None = None) -> None:
    """Refuse a graph with an op whose output, for inputs of `input_shapes` ({tensor name: shape}), would
    exceed the bound (or whose size cannot be known before it runs: it depends on pixel values), naming
    the op. TensorFlow's own shape inference over the whole graph (constants folded, functions followed)
    sizes every tensor before anything runs: a few-KB graph that fills, pads, tiles or doubles its way to
    gigabytes is refused here, not after it has taken the memory."""
    import tensorflow as tf

    pixels = max((int(np.prod(s[:-1], dtype=np.float64)) for s in input_shapes.values()), default=1)
    limit = max(max_tensor_bytes() if max_bytes is None else max_bytes, BYTES_PER_INPUT_PIXEL * pixels)
    graph = tf.Graph()
    try:
        with graph.as_default():
            feeds = {name: tf.compat.v1.placeholder(tf.float32, list(shape), name="falsr_bound_input")
                     for name, shape in input_shapes.items()}
            tf.compat.v1.import_graph_def(graph_def, input_map=feeds, name="")
    except (ValueError, KeyError, TypeError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FalsrError(f"cannot import {source}: {first}") from None
    mapped = {name.split(":")[0] for name in input_shapes}
    _check_ops_allocation(graph, graph_def, mapped, limit, source, "", 0)


def _check_ops_allocation(graph: tf.Graph, graph_def: GraphDef, skip: set[str], limit: int, source: str,
                          where: str, depth: int) -> None:
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

    library = {fn.signature.name: fn for fn in graph_def.library.function}
    for op in graph.get_operations():
        if op.name in skip or op.type == "Placeholder" and not op.inputs:
            continue
        for out in op.outputs:
            dims = out.shape.as_list() if out.shape.rank is not None else None
            if dims is None or any(d is None for d in dims):
                raise FalsrError(f"refusing to run {source}: {op.type} node {where}{op.name} makes a tensor "
                                 "whose size cannot be known before it runs (it depends on the pixel "
                                 "values); a model's tensors follow from its input size")
            size = int(np.prod(dims, dtype=np.float64)) * max(out.dtype.size, 1)
            if size > limit:
                raise FalsrError(f"refusing to run {source}: {op.type} node {where}{op.name} makes a tensor "
                                 f"of {size / 2**30:.2f} GiB ({'x'.join(map(str, dims))}), over the "
                                 f"{limit / 2**30:.2f} GiB bound (env {MAX_TENSOR_ENV})")
        for callee in _called_functions(op.node_def):
            if callee not in library or depth > 8:
                raise FalsrError(f"refusing to run {source}: {op.type} node {where}{op.name} calls "
                                 f"{callee}, which cannot be sized")
            # The call site's shapes, not those recorded in the function (traced with unknown sizes).
            fdef = type(library[callee])()
            fdef.CopyFrom(library[callee])
            fdef.arg_attr.clear()
            fdef.attr.pop("_input_shapes", None)
            body = function_def_to_graph(fdef, input_shapes=[t.shape for t in op.inputs])
            _check_ops_allocation(body, graph_def, set(), limit, source, f"{where}function {callee}: ",
                                  depth + 1)


def placeholders(graph_def: GraphDef) -> list[str]:
    return [n.name for n in graph_def.node if n.op in ("Placeholder", "PlaceholderWithDefault")]


def candidate_outputs(graph_def: GraphDef, limit: int = 5) -> list[str]:
    """Nodes whose results nothing in the graph consumes: the likely outputs."""
    consumed = {inp.lstrip("^").split(":")[0] for n in graph_def.node for inp in n.input}
    sinks = [n.name for n in graph_def.node if n.name not in consumed and n.op not in ("Const", "NoOp")]
    return sinks[-limit:]


def check_interface(
    graph_def: GraphDef, inputs: Sequence[str], output: str, source: str = "graph"
) -> None:
    """Make sure the named input placeholders and output exist, else say what the graph has instead."""
    names = {n.name: n for n in graph_def.node}
    missing_in = [t for t in inputs if names.get(t.split(":")[0]) is None
                  or names[t.split(":")[0]].op not in ("Placeholder", "PlaceholderWithDefault")]
    missing_out = output.split(":")[0] not in names
    if missing_in or missing_out:
        expected = ", ".join(t.split(":")[0] for t in inputs)
        found_in = ", ".join(placeholders(graph_def)) or "none"
        found_out = ", ".join(candidate_outputs(graph_def)) or "none"
        raise FalsrError(
            f"{source} does not have the FALSR interface: expected input placeholders {expected} and "
            f"output {output.split(':')[0]}; found placeholders [{found_in}] and outputs [{found_out}]"
        )


def graph_function(graph_def: GraphDef, inputs: Sequence[str], outputs: str | dict[str, str]) -> Any:
    """A concrete function of a (vetted) frozen graph, pruned from the `inputs` tensors to `outputs` (a tensor
    name, or output key → tensor name: the keys become a TFLite signature's output names)."""
    import tensorflow as tf

    def _import() -> None:
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    graph = wrapped.graph
    fetches = (graph.get_tensor_by_name(outputs) if isinstance(outputs, str)
               else {key: graph.get_tensor_by_name(name) for key, name in outputs.items()})
    return wrapped.prune([graph.get_tensor_by_name(name) for name in inputs], fetches)


class FrozenGraph:
    """A vetted frozen graph, imported and pruned once to a callable from `inputs` to `output`."""

    def __init__(self, graph_def: GraphDef, inputs: Sequence[str], output: str,
                 source: str = "graph") -> None:
        import tensorflow as tf

        check_ops(graph_def, source)
        check_interface(graph_def, inputs, output, source)
        self._graph_def = graph_def
        self._bounded: set[tuple] = set()  # input shapes whose allocations have been sized
        self.source = source
        self.inputs = tuple(tensor_name(t) for t in inputs)
        self.output = tensor_name(output)

        try:
            self._fn = graph_function(graph_def, self.inputs, self.output)
        except (ValueError, KeyError, TypeError, tf.errors.OpError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise FalsrError(f"cannot import {source}: {first}") from None

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        """Run the graph on one set of inputs (float32 NHWC arrays) and return the output as numpy."""
        import tensorflow as tf

        if len(arrays) != len(self.inputs):
            raise FalsrError(f"{self.source} takes {len(self.inputs)} inputs, got {len(arrays)}")
        shapes = tuple(tuple(np.shape(a)) for a in arrays)
        if shapes not in self._bounded:  # sized before it runs, once per input size
            check_allocation(self._graph_def, dict(zip(self.inputs, shapes, strict=True)), self.source)
            self._bounded.add(shapes)
        try:
            out = self._fn(*[tf.convert_to_tensor(np.asarray(a, np.float32)) for a in arrays])
        except tf.errors.OpError as e:
            raise FalsrError(f"running {self.source} failed: {op_error_text(e)}") from None
        return out.numpy()


def op_error_text(e: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong (its first is often only "Graph execution
    error:", the op and the reason come after it)."""
    lines = [line.strip() for line in (getattr(e, "message", None) or str(e)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Graph execution error", "Detected at node",
                                                              "File ", "Stack trace"))]
    return (useful or lines or [type(e).__name__])[0][:300]


def load_falsr_graph(path: str | os.PathLike) -> FrozenGraph:
    """Load a FALSR-interface frozen graph (inputs Y and PbPr, output RGB in [0,1]) from a .pb file."""
    graph_def = read_graph_def(path)
    return FrozenGraph(graph_def, (INPUT_Y, INPUT_PBPR), OUTPUT, source=str(path))


def interface_graph(graph_def: GraphDef, source: str = "graph") -> tuple[FrozenGraph, bool]:
    """A graph as it runs: the FALSR interface (Y, PbPr → RGB) when it has the PbPr input, else the
    `--interface y` form (Y → HR Y); and whether it is the FALSR interface."""
    if INPUT_PBPR in placeholders(graph_def):
        return FrozenGraph(graph_def, (INPUT_Y, INPUT_PBPR), OUTPUT, source), True
    return FrozenGraph(graph_def, (INPUT_Y,), Y_OUTPUT, source), False
