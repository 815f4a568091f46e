"""Running exported `.tflite` models: either interface, any input size (the runner SRNet holds).

A model exported with `--interface falsr` takes LR luma and HR PbPr and returns RGB in [0,1]; one with
`--interface y` takes LR luma and returns HR luma. The input tensors are resized to each image (the
export keeps height and width dynamic), and the scale is read off a probe run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.errors import FalsrError
from falsr_cli.models.probe import probe_scale

if TYPE_CHECKING:
    import keras

MAX_INTERPRETERS = 4  # interpreters a TFLiteModel keeps allocated, one per recent input shape
METADATA_NAME = "falsr"  # the TFLite metadata entry, and the SavedModel asset `assets/falsr.json`


def tflite_bytes(frozen: Any, quantize: str = "none",
                 calibration: Callable[[], Iterator[dict[str, np.ndarray]]] | None = None) -> bytes:
    """A frozen concrete function (or a list of them: one signature each) → a .tflite flatbuffer: float32,
    fp16 weights, int8 weights (dynamic range), or int8 weights and activations (`int8-full`, calibrated on
    the inputs `calibration` yields by input name; float32 in and out, so the interface does not change)."""
    import tensorflow as tf

    # From the frozen function: converting the variable-holding one leaves READ_VARIABLE ops that
    # return garbage once the inputs are resized.
    functions = list(frozen) if isinstance(frozen, (list, tuple)) else [frozen]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, tf.Module())
    if quantize in ("fp16", "int8", "int8-full"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8-full":
        if calibration is None:
            raise FalsrError("int8-full quantization needs calibration inputs")
        converter.representative_dataset = calibration
        # int8 kernels where TFLite has them, float for the rest (the colour stage's clamp and division).
        ops = tf.lite.OpsSet
        converter.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8, ops.TFLITE_BUILTINS]
    try:
        with warnings.catch_warnings():
            # int8-full: the converter calibrates with TensorFlow's own (deprecated) interpreter.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()
    except Exception as e:  # the converter raises a zoo of types (ConverterError, RuntimeError, …)
        raise FalsrError(f"TFLite conversion failed: {str(e).strip().splitlines()[0]}") from None


def _schema() -> Any:
    """The TFLite flatbuffer schema module: LiteRT's, else TensorFlow's (the same generated code)."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def tflite_ops(content: bytes) -> list[str]:
    """The builtin op names (CONV_2D, DEPTH_TO_SPACE, …; custom ops by their code) a .tflite uses, sorted."""
    fb = _schema()
    model = fb.Model.GetRootAs(content, 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # as the schema's readers do
        custom = code.CustomCode()
        ops.add(custom.decode() if custom else names.get(builtin, str(builtin)))
    return sorted(ops)


def tflite_metadata(content: bytes) -> dict[str, bytes]:
    """The metadata entries of a .tflite (name → bytes of its buffer)."""
    fb = _schema()
    model = fb.Model.GetRootAs(content, 0)
    out = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        out[entry.Name().decode()] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    return out


def with_tflite_metadata(content: bytes, name: str, data: bytes) -> bytes:
    """A .tflite with the metadata entry `name` set to `data` (the model itself unchanged)."""
    import flatbuffers

    fb = _schema()
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAs(content, 0))
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    model.metadata = [m for m in (model.metadata or []) if m.name != name.encode()]
    entry = fb.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(content) + len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def luma_tflite_bytes(luma_model: keras.Model, quantize: str = "none") -> bytes:
    """A Keras luma model ((N,h,w,1) → (N,sh,sw,1)) as a .tflite flatbuffer with dynamic height and width."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32, name="y")])
    def serve(y):
        return {"sr_y": luma_model(y, training=False)}

    return tflite_bytes(convert_variables_to_constants_v2(serve.get_concrete_function()), quantize)


def make_interpreter(model: str | os.PathLike | bytes, num_threads: int | None) -> Any:
    """A TFLite interpreter from the LiteRT package when installed, else TensorFlow's (deprecated) one."""
    kwargs: dict[str, Any] = {"num_threads": num_threads or os.cpu_count() or 1}
    if isinstance(model, bytes):
        kwargs["model_content"] = model
    else:
        kwargs["model_path"] = str(model)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        # TF 2.20+ warns that tf.lite.Interpreter moves to ai_edge_litert; it still works.
        warnings.simplefilter("ignore")
        return Interpreter(**kwargs)


class TFLiteModel:
    """A `.tflite` SR model: `interface` is "falsr" (y, pbpr → RGB) or "y" (y → HR y)."""

    def __init__(
        self, model: str | os.PathLike | bytes, num_threads: int | None = None, name: str = ""
    ) -> None:
        where = "model bytes" if isinstance(model, bytes) else str(model)
        if not isinstance(model, bytes) and not Path(model).is_file():
            raise FalsrError(f"model file not found: {model}")
        try:
            self._it = make_interpreter(model, num_threads)
        except (ValueError, RuntimeError) as e:
            raise FalsrError(f"{where} is not a TFLite model: {str(e).strip().splitlines()[0]}") from None
        self.name = name or (Path(model).stem if not isinstance(model, bytes) else "tflite")
        inputs = self._it.get_input_details()
        pbpr = [d for d in inputs if "pbpr" in d["name"]]
        other = [d for d in inputs if "pbpr" not in d["name"]]
        if len(inputs) == 2 and len(pbpr) == 1:
            self.interface = "falsr"
            self._inputs = [other[0], pbpr[0]]
        elif len(inputs) == 1:
            self.interface = "y"
            self._inputs = inputs
        else:
            names = ", ".join(d["name"] for d in inputs)
            raise FalsrError(
                f"{where} has inputs [{names}]: expected LR luma (and PbPr for the FALSR interface)"
            )
        for d in self._inputs:
            sig = list(d.get("shape_signature", d["shape"]))
            if len(sig) != 4:
                raise FalsrError(f"{where}: input {d['name']} is not NHWC (shape {sig})")
        self._output = self._it.get_output_details()[0]
        self._model, self._threads = model, num_threads
        # Interpreters allocated for the input shapes last seen, least recently used first: the tiles of a
        # photo share one shape (runtime.tiling), a few images of a benchmark a few more, so none is resized
        # per call; a new shape beyond the cache resizes the oldest (30 ms against 130 ms to make one).
        self._by_shape: dict[tuple, Any] = {}
        self._spare: Any = self._it
        self.scale = probe_scale(self, self.interface == "falsr", self.name)

    def _for(self, shapes: tuple) -> Any:
        if shapes in self._by_shape:
            self._by_shape[shapes] = it = self._by_shape.pop(shapes)
            return it
        if self._spare is not None:
            it, self._spare = self._spare, None
        elif len(self._by_shape) >= MAX_INTERPRETERS:
            it = self._by_shape.pop(next(iter(self._by_shape)))
        else:
            it = make_interpreter(self._model, self._threads)
        for d, shape in zip(self._inputs, shapes, strict=True):
            it.resize_tensor_input(d["index"], shape, strict=True)
        it.allocate_tensors()
        self._by_shape[shapes] = it
        return it

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        """Run on float32 NHWC inputs (y, or y and pbpr); returns a copy of the output."""
        if len(arrays) != len(self._inputs):
            raise FalsrError(f"{self.name} takes {len(self._inputs)} input(s), got {len(arrays)}")
        arrays = tuple(np.ascontiguousarray(a, np.float32) for a in arrays)
        shapes = tuple(a.shape for a in arrays)
        try:
            it = self._for(shapes)
            for d, a in zip(self._inputs, arrays, strict=True):
                it.set_tensor(d["index"], a)
            it.invoke()
        except (ValueError, RuntimeError) as e:
            self._by_shape.pop(shapes, None)
            raise FalsrError(f"running {self.name} failed: {str(e).strip().splitlines()[0]}") from None
        return np.array(it.get_tensor(self._output["index"]))
