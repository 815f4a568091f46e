"""SRNet, the one network type: LR RGB uint8 in, SR RGB uint8 out, whatever runs it.

A network is a Keras luma model, a frozen graph, a TFLite interpreter or MATLAB bicubic; each has a
constructor here (`SRNet.from_keras`, `from_graph`, `from_tflite`, `bicubic`). Whatever runs it is held as
one of two callables — `luma` (LR Y → HR Y) or `interface` (the FALSR graphs' Y and upscaled PbPr → RGB) —
and `rgb01` is the one colour stage over either, so evaluating, tiling and timing never ask which it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from falsr_cli.cost.cost_model import receptive_field, working_floats
from falsr_cli.data import color
from falsr_cli.data.imresize import matlab_bicubic
from falsr_cli.errors import FalsrError
from falsr_cli.models.engine import XNNPACK_ENGINES, luma_function
from falsr_cli.models.graphdef import FrozenGraph, check_ops, interface_graph, read_graph_def
from falsr_cli.models.pb_import import graph_architecture, sidecar_architecture
from falsr_cli.models.probe import probe_scale
from falsr_cli.models.tflite import TFLiteModel
from falsr_cli.space.architecture import Architecture

if TYPE_CHECKING:
    import keras

LumaFn = Callable[[np.ndarray], np.ndarray]  # (1,h,w,1) float32 LR luma → (1,sh,sw,1) HR luma
InterfaceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # y, upscaled pbpr → (1,sh,sw,3) RGB in [0,1]


def falsr_inputs(lr_rgb: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The FALSR graphs' inputs for one image: LR luma (1,h,w,1) and bicubic-upscaled PbPr (1,sh,sw,2)."""
    y = color.rgb_to_ypbpr(lr_rgb)[..., :1]
    pbpr = color.chroma_for_upscale(lr_rgb, scale)
    return y[None].astype(np.float32), pbpr[None].astype(np.float32)


@dataclass
class SRNet:
    """A super-resolution network: what runs it, its architecture when known, its scale (None: bicubic at
    any scale) and `upscale(lr_rgb)`."""

    name: str
    scale: int | None
    luma: LumaFn | None = None
    interface: InterfaceFn | None = None
    arch: Architecture | None = None
    keras: keras.Model | None = None  # the Keras luma model, where there is one (export, model cards)
    engine: str = "tf"  # what runs it: tf, xnnpack (a .tflite file, or converted), xnnpack-int8
    source: str = ""
    receptive_field: int | None = None  # LR pixels the network sees; None when unknown
    # Working memory per LR pixel, in floats (cost_model.working_floats): sizes tiles to a memory budget.
    working_floats: int | None = None

    def __post_init__(self) -> None:
        # From the architecture once, when there is a real one (not when the caller says otherwise).
        if isinstance(self.arch, Architecture):
            self.receptive_field = self.receptive_field or receptive_field(self.arch)
            self.working_floats = self.working_floats or working_floats(self.arch)

    @classmethod
    def bicubic(cls, scale: int | None = None) -> SRNet:
        """MATLAB-compatible bicubic of the RGB image: the baseline of every SR table."""
        return cls("bicubic", scale, source="bicubic")

    @classmethod
    def from_keras(cls, model: keras.Model, arch: Architecture | None = None, name: str = "model",
                   scale: int | None = None, engine: str = "tf", threads: int | None = None,
                   cache: bool = True, source: str = "") -> SRNet:
        """A Keras luma model run in TensorFlow (traced once for every size) or XNNPACK (`engine`);
        `cache` keeps the XNNPACK conversion (not for a model used once, such as a search candidate)."""
        scale = scale or (arch.scale if arch is not None else probe_scale(model, False, name))
        fn, used = luma_function(model, engine, threads, name, cache=cache)
        return cls(name, scale, luma=fn, arch=arch, keras=model, engine=used, source=source or name)

    @classmethod
    def from_graph(cls, graph: str | os.PathLike | FrozenGraph, name: str | None = None) -> SRNet:
        """A frozen graph run as it is: the FALSR interface (published or exported) or `--interface y`;
        a file is vetted (check_ops) before it is imported."""
        if isinstance(graph, FrozenGraph):
            name = name or Path(graph.source).stem
            return cls(name, probe_scale(graph, True, name), interface=graph, source=graph.source)
        path = Path(graph)
        graph_def = read_graph_def(path)
        check_ops(graph_def, str(path))
        try:
            arch = graph_architecture(graph_def, path)
        except FalsrError:
            arch = None  # not a FALSR-space graph: run it, but the receptive field is unknown
        fn, is_interface = interface_graph(graph_def, str(path))
        name = name or path.stem
        scale = arch.scale if arch is not None else probe_scale(fn, is_interface, name)
        run = {"interface": fn} if is_interface else {"luma": fn}
        return cls(name, scale, arch=arch, source=str(path), **run)

    @classmethod
    def from_tflite(cls, model: str | os.PathLike | bytes, threads: int | None = None) -> SRNet:
        """An exported `.tflite` of either interface, in the TFLite interpreter (XNNPACK)."""
        runner = TFLiteModel(model, threads)
        arch = None if isinstance(model, bytes) else sidecar_architecture(model)
        run = {"luma": runner} if runner.interface == "y" else {"interface": runner}
        source = "tflite bytes" if isinstance(model, bytes) else str(model)
        return cls(runner.name, runner.scale, arch=arch, engine="xnnpack", source=source, **run)

    @property
    def runtime(self) -> str:
        """tflite (the TFLite interpreter, XNNPACK) or tf."""
        return "tflite" if self.engine in XNNPACK_ENGINES else "tf"

    @property
    def is_bicubic(self) -> bool:
        return self.luma is None and self.interface is None

    def rgb01(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """The colour stage: (1,h,w,1) LR luma and (1,sh,sw,2) PbPr → (sh,sw,3) RGB in [0,1]."""
        want = pbpr.shape[1:3]
        if self.interface is not None:
            out = np.asarray(self.interface(y, pbpr))
            if out.ndim != 4 or out.shape[0] != 1 or out.shape[3] != 3:
                raise FalsrError(f"model {self.name} returned shape {out.shape}, expected (1, H, W, 3) RGB")
            self._check_size(out.shape[1:3], y.shape[1:3], want)
            return out[0]
        hr_y = np.asarray(self.luma(y))
        if hr_y.ndim != 4 or hr_y.shape[0] != 1 or hr_y.shape[3] != 1:
            raise FalsrError(f"model {self.name} returned shape {hr_y.shape}, expected (1, H, W, 1) luma")
        self._check_size(hr_y.shape[1:3], y.shape[1:3], want)
        return color.ypbpr_to_rgb255(hr_y[0], pbpr[0]) / 255.0

    def _check_size(self, got: tuple[int, ...], lr: tuple[int, ...], want: tuple[int, ...]) -> None:
        if tuple(got) != tuple(want):
            raise FalsrError(f"model {self.name} gave a {got[1]}x{got[0]} image for a {lr[1]}x{lr[0]} input; "
                             f"expected x{self.scale} ({want[1]}x{want[0]})")

    def upscale(self, lr_rgb: np.ndarray) -> np.ndarray:
        """LR RGB uint8 (H, W, 3) → SR RGB uint8 (scale·H, scale·W, 3)."""
        lr_rgb = np.asarray(lr_rgb)
        if lr_rgb.ndim != 3 or lr_rgb.shape[2] != 3 or lr_rgb.dtype != np.uint8:
            raise FalsrError(f"an upscaler takes an RGB uint8 image (H, W, 3), got {lr_rgb.dtype} "
                             f"{lr_rgb.shape}")
        if self.scale is None:
            raise FalsrError(f"{self.name}: no scale given")
        if self.is_bicubic:
            return matlab_bicubic(lr_rgb, self.scale)
        return color.to_uint8(self.rgb01(*falsr_inputs(lr_rgb, self.scale)))
