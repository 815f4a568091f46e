"""Deployment targets: the runtime or delegate a file is made for, the formats it reads, whether it needs
fixed input shapes, and the ops it takes (an allow-list per format, as the runtime documents them).

The check is per op, so an op the builder gains later is judged like any other: allowed, or named.
OpenCV 4's list is what opencv-python-headless 4.x loads in the tests; the others (Android NNAPI, the
mobile GPU delegates, Core ML's TensorFlow 2 converter) follow their documented op lists. OpenCV's TFLite
importer is no target: it has neither DEPTH_TO_SPACE nor the builtin TRANSPOSE_CONV that could stand in
for it, nor MINIMUM for the colour stage's clamp; OpenCV reads the ONNX file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from falsr_cli.errors import FalsrError


def _ops(text: str) -> frozenset[str]:
    return frozenset(text.split())


# TFLite builtin ops every CPU runtime (LiteRT, XNNPACK) has; the delegates take subsets.
_NNAPI_TFLITE = _ops("""
    ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE SPACE_TO_DEPTH DEQUANTIZE
    QUANTIZE FULLY_CONNECTED LOGISTIC MAX_POOL_2D MUL RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR
    RESIZE_NEAREST_NEIGHBOR SOFTMAX TANH DIV SUB MEAN PAD PADV2 MIRROR_PAD SQUEEZE STRIDED_SLICE SLICE
    TRANSPOSE TRANSPOSE_CONV ABS CAST EXP MAXIMUM MINIMUM NEG PRELU LEAKY_RELU HARD_SWISH SPLIT SQRT
    RSQRT POW ELU
""")
# TFLite's GPU delegate (OpenGL / OpenCL / Metal) and the vendor GPU delegates (Arm NN on Mali): the ops
# they share. DEPTH_TO_SPACE is not among them (the Mali run lost it): write it as TRANSPOSE_CONV.
_MOBILE_GPU_TFLITE = _ops("""
    ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEQUANTIZE FULLY_CONNECTED HARD_SWISH
    LOGISTIC MAX_POOL_2D MAXIMUM MINIMUM MUL DIV SUB PAD PRELU RELU RELU6 RELU_N1_TO_1 LEAKY_RELU RESHAPE
    RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR SLICE STRIDED_SLICE SOFTMAX SPLIT TANH TRANSPOSE TRANSPOSE_CONV
    MEAN ABS ELU EXP NEG SQRT RSQRT
""")
# OpenCV 4.x `cv2.dnn.readNetFromONNX` on a fixed-shape float graph. No boolean tensors at all.
_OPENCV4_ONNX = _ops("""
    Conv ConvTranspose Add Sub Mul Div Max Min Sum Relu LeakyRelu PRelu Sigmoid Tanh Clip Concat Split
    Slice Reshape Transpose Squeeze Unsqueeze Flatten Identity Constant Pad DepthToSpace SpaceToDepth
    MaxPool AveragePool GlobalAveragePool Resize Upsample BatchNormalization Softmax Gemm MatMul Cast
    Shape Gather Expand Neg Abs Sqrt Exp ReduceMean
""")
# Core ML through coremltools' TensorFlow 2 front end (from the SavedModel): its op registry, our subset.
_COREML_TF = _ops("""
    Const Placeholder Identity IdentityN NoOp StopGradient Conv2D DepthwiseConv2dNative Conv2DBackpropInput
    BiasAdd Add AddV2 AddN Sub Mul RealDiv Maximum Minimum Neg ClipByValue Relu Relu6 LeakyRelu Sigmoid
    Tanh MaxPool AvgPool ResizeBilinear ResizeNearestNeighbor ConcatV2 Split SplitV DepthToSpace
    SpaceToDepth Reshape Shape StridedSlice Slice Pack Unpack Pad MirrorPad Squeeze ExpandDims Fill Cast
    Transpose PartitionedCall StatefulPartitionedCall
""")


@dataclass(frozen=True)
class Target:
    """A runtime or delegate an export is made for."""

    name: str
    runtime: str
    ops: dict[str, frozenset[str]]  # format → the ops (as that format names them) the runtime takes
    fixed_size: bool = True
    falls_back: bool = False  # a delegate runs what it cannot take on the CPU; a runtime refuses the file
    int8: bool = False  # has int8 kernels: --quantize int8-full runs faster there
    notes: tuple[str, ...] = field(default=())

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(self.ops)

    def takes_depth_to_space(self, fmt: str) -> bool:
        return bool({"DEPTH_TO_SPACE", "DepthToSpace"} & self.ops[fmt])

    def unsupported(self, fmt: str, ops: list[str]) -> list[str]:
        """The ops of a file in `fmt` this target will not take (sorted)."""
        return sorted(set(ops) - self.ops[fmt])


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("opencv4", "OpenCV 4.x dnn (cv2.dnn.readNetFromONNX)", {"onnx": _OPENCV4_ONNX}),
        Target("nnapi", "Android NNAPI delegate (TFLite / LiteRT)", {"tflite": _NNAPI_TFLITE},
               falls_back=True, int8=True),
        Target("mobile-gpu", "TFLite / LiteRT GPU delegates (OpenCL, OpenGL ES, Metal; Arm NN on Mali)",
               {"tflite": _MOBILE_GPU_TFLITE}, falls_back=True),
        Target("coreml", "Core ML, converted from the SavedModel by coremltools", {"savedmodel": _COREML_TF}),
    )
}


def get_target(name: str, fmt: str) -> Target:
    """The named target, checked against the export format; a one-line error otherwise."""
    target = TARGETS.get(name)
    if target is None:
        raise FalsrError(f"unknown target {name!r}: use one of {', '.join(TARGETS)}")
    if fmt not in target.ops:
        raise FalsrError(f"--target {name} ({target.runtime}) takes --format {' or '.join(target.formats)}, "
                         f"not {fmt}")
    return target


def parse_input_size(text: str) -> tuple[int, int]:
    """`HxW` (LR pixels) → (h, w); a one-line error for anything else."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise FalsrError(f"--input-size {text!r}: expected HxW in LR pixels, e.g. 240x320") from None
    if h < 8 or w < 8 or h > 8192 or w > 8192:
        raise FalsrError(f"--input-size {text!r}: each side must be 8 to 8192 LR pixels")
    return h, w
