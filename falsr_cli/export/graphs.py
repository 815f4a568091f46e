"""Rewrites of a frozen export graph, each one per op (whichever cells made the op): the ops and attributes
TensorFlow 1.x knows, and depth-to-space as a transposed convolution.

Working per op rather than per cell keeps them right for ops added to the builder later: an op they do not
know passes through unchanged, and the checks (`tf1_problems`, `targets.unsupported_ops`) name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tensorflow.core.framework.graph_pb2 import GraphDef

# The ops a falsr graph may hold, with the attributes TensorFlow 1.x defines for each (the published FALSR
# graphs, written by TF 1.x, carry exactly these on the ops they share with ours). Attributes TF 2 added
# (`explicit_paddings`, `half_pixel_centers`) are not here: TF 1.x refuses a NodeDef naming an attribute
# its op lacks. Attributes whose name starts with `_` are ignored by every TF version's validation.
TF1_OPS: dict[str, frozenset[str]] = {
    op: frozenset(attrs.split())
    for op, attrs in {
        "Const": "value dtype", "Placeholder": "dtype shape", "PlaceholderWithDefault": "dtype shape",
        "Identity": "T", "IdentityN": "T", "NoOp": "", "StopGradient": "T",
        "Conv2D": "T strides use_cudnn_on_gpu padding data_format dilations",
        "DepthwiseConv2dNative": "T strides padding data_format dilations",
        "Conv2DBackpropInput": "T strides use_cudnn_on_gpu padding data_format dilations",
        "BiasAdd": "T data_format",
        "Add": "T", "AddN": "N T", "Sub": "T", "Mul": "T", "RealDiv": "T", "Maximum": "T", "Minimum": "T",
        "Neg": "T", "ClipByValue": "T", "Relu": "T", "Relu6": "T", "LeakyRelu": "T alpha", "Sigmoid": "T",
        "Tanh": "T",
        "MaxPool": "T ksize strides padding data_format", "AvgPool": "T ksize strides padding data_format",
        "ResizeBilinear": "T align_corners", "ResizeNearestNeighbor": "T align_corners",
        "ConcatV2": "N T Tidx", "Split": "num_split T", "SplitV": "num_split T Tlen",
        "DepthToSpace": "T block_size data_format", "SpaceToDepth": "T block_size data_format",
        "Reshape": "T Tshape", "Shape": "T out_type",
        "StridedSlice": "T Index begin_mask end_mask ellipsis_mask new_axis_mask shrink_axis_mask",
        "Slice": "T Index", "Pack": "N T axis", "Unpack": "num T axis", "Pad": "T Tpaddings",
        "MirrorPad": "T Tpaddings mode", "Squeeze": "T squeeze_dims", "ExpandDims": "T Tdim",
        "Fill": "T index_type", "Cast": "SrcT DstT", "Transpose": "T Tperm",
    }.items()
}  # fmt: skip

# TF 2 ops with a TF 1.x twin of the same inputs and result, and TF 2 attributes that may be dropped when
# they hold the value that means what TF 1.x does without them.
TF1_RENAMES = {"AddV2": "Add"}
TF1_DROPPABLE = {"explicit_paddings": [], "half_pixel_centers": False}


def _attr_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "list":
        return list(value.list.i) or list(value.list.f) or list(value.list.s)
    return getattr(value, kind) if kind else None


def tf1_compatible(graph_def: GraphDef) -> GraphDef:
    """A copy of a frozen graph that TensorFlow 1.x can import: TF 2-only ops renamed to their TF 1 twins,
    TF 2-only attributes dropped where they hold their TF 1 meaning. The same output in TF 2."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        node.op = TF1_RENAMES.get(node.op, node.op)
        for name, default in TF1_DROPPABLE.items():
            if name in node.attr and _attr_value(node.attr[name]) == default:
                del node.attr[name]
    return out


def tf1_problems(graph_def: GraphDef) -> list[str]:
    """What in a graph TensorFlow 1.x cannot import: ops it lacks, attributes its ops lack (empty: none)."""
    problems = []
    for node in graph_def.node:
        known = TF1_OPS.get(node.op)
        if known is None:
            problems.append(f"op {node.op} (node {node.name})")
            continue
        extra = sorted(a for a in node.attr if not a.startswith("_") and a not in known)
        if extra:
            problems.append(f"{node.op} attribute(s) {', '.join(extra)} (node {node.name})")
    for fn in graph_def.library.function:
        problems.append(f"function {fn.signature.name} (TF 1.x frozen graphs have no function library)")
    return problems


def depth_to_space_kernel(block: int, channels: int) -> np.ndarray:
    """The (s, s, c, c·s²) filter of a transposed conv, stride s, that is depth-to-space ×s (TF's DCR order:
    input channel (dy·s + dx)·c + k goes to output channel k at offset (dy, dx)): a permutation of 1s."""
    s, c = int(block), int(channels)
    kernel = np.zeros((s, s, c, c * s * s), np.float32)
    for dy in range(s):
        for dx in range(s):
            for k in range(c):
                kernel[dy, dx, k, (dy * s + dx) * c + k] = 1.0
    return kernel


def depth_to_space_as_conv_transpose(graph_def: GraphDef) -> GraphDef:
    """A copy of a graph (with fixed input shapes) in which every DepthToSpace is a transposed convolution
    with fixed 0/1 weights and stride = block size: the same output (each output value is one input value
    times 1), for runtimes without DEPTH_TO_SPACE (mobile GPU delegates, OpenCV's TFLite importer)."""
    import tensorflow as tf

    shapes = _static_shapes(graph_def)
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op != "DepthToSpace" or node.attr["data_format"].s not in (b"", b"NHWC"):
            out.node.add().CopyFrom(node)
            continue
        s = node.attr["block_size"].i
        source = node.input[0]
        n, h, w, c = shapes[source if ":" in source else f"{source}:0"]
        if None in (n, h, w, c):
            raise ValueError(f"depth-to-space {node.name}: input shape {[n, h, w, c]} is not fixed")
        dtype = node.attr["T"].type
        kernel = out.node.add(name=f"{node.name}/d2s_kernel", op="Const")
        kernel.attr["dtype"].type = dtype
        kernel.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(depth_to_space_kernel(s, c // (s * s)), tf.dtypes.as_dtype(dtype))
        )
        sizes = out.node.add(name=f"{node.name}/d2s_output_shape", op="Const")
        sizes.attr["dtype"].type = tf.int32.as_datatype_enum
        sizes.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.array([n, h * s, w * s, c // (s * s)],
                                                                          np.int32)))
        conv = out.node.add(name=node.name, op="Conv2DBackpropInput")  # the same name: consumers unchanged
        controls = [i for i in node.input[1:] if i.startswith("^")]
        conv.input.extend([sizes.name, kernel.name, source, *controls])
        conv.attr["T"].type = dtype
        conv.attr["strides"].list.i.extend([1, s, s, 1])
        conv.attr["padding"].s = b"VALID"
        conv.attr["data_format"].s = b"NHWC"
        conv.attr["dilations"].list.i.extend([1, 1, 1, 1])
        conv.attr["use_cudnn_on_gpu"].b = True
    return out


def _static_shapes(graph_def: GraphDef) -> dict[str, list[int | None]]:
    """Every tensor's shape as TensorFlow infers it on import ('node:0' → dims, None where unknown)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return {t.name: t.shape.as_list() if t.shape.rank is not None else [None] * 4
            for op in graph.get_operations() for t in op.outputs}


def graph_ops(graph_def: GraphDef) -> list[str]:
    """The distinct op types of a graph (nodes and function library), sorted."""
    ops = {n.op for n in graph_def.node} | {n.op for fn in graph_def.library.function for n in fn.node_def}
    return sorted(ops)
