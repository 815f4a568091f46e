"""Upscalers: anything that turns an LR RGB uint8 image into an SR RGB uint8 image.

Every model kind (bicubic, frozen graph, Keras luma network, TFLite) is used through the same small
protocol, so evaluation, saving and timing code never cares which one it runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from falsr_cli.data import color
from falsr_cli.errors import FalsrError


@runtime_checkable
class Upscaler(Protocol):
    """LR RGB uint8 (H, W, 3) → SR RGB uint8 (scale·H, scale·W, 3)."""

    name: str
    scale: int

    def upscale(self, lr_rgb: np.ndarray) -> np.ndarray: ...


def _check_lr(lr_rgb: np.ndarray) -> np.ndarray:
    lr_rgb = np.asarray(lr_rgb)
    if lr_rgb.ndim != 3 or lr_rgb.shape[2] != 3 or lr_rgb.dtype != np.uint8:
        raise FalsrError(f"an upscaler takes an RGB uint8 image (H, W, 3), got {lr_rgb.dtype} {lr_rgb.shape}")
    return lr_rgb


def _check_sr(sr: np.ndarray, lr_rgb: np.ndarray, scale: int, name: str) -> np.ndarray:
    want = (lr_rgb.shape[0] * scale, lr_rgb.shape[1] * scale)
    if sr.shape[:2] != want:
        raise FalsrError(
            f"model {name} gave a {sr.shape[1]}x{sr.shape[0]} image for a "
            f"{lr_rgb.shape[1]}x{lr_rgb.shape[0]} input; expected x{scale} ({want[1]}x{want[0]})"
        )
    return sr


PROBE = 8  # LR side of the probe run that measures a model's scale


def probe_scale(fn: Callable[..., Any], interface: bool, name: str) -> int:
    """A model's scale, from one run on a PROBE×PROBE input; with the FALSR interface (y, pbpr) the chroma
    input must already have the HR size, so ×2, ×3 and ×4 are tried."""
    y = np.zeros((1, PROBE, PROBE, 1), np.float32)
    if not interface:
        out = np.asarray(fn(y))
    else:
        for s in (2, 3, 4):
            try:
                out = np.asarray(fn(y, np.zeros((1, PROBE * s, PROBE * s, 2), np.float32)))
                break
            except FalsrError:
                continue
        else:
            raise FalsrError(f"{name}: cannot find the model's scale (tried ×2, ×3, ×4)")
    scale = out.shape[1] // PROBE if out.ndim == 4 else 0
    if scale < 1 or out.shape[1] != scale * PROBE or out.shape[2] != scale * PROBE:
        raise FalsrError(f"{name}: output {out.shape} for an {PROBE}x{PROBE} input is not a whole scale")
    return scale


class BicubicUpscaler:
    """MATLAB-compatible bicubic upscaling of the RGB image: the baseline of every SR table."""

    def __init__(self, scale: int = 2) -> None:
        self.scale = int(scale)
        self.name = "bicubic"

    def upscale(self, lr_rgb: np.ndarray) -> np.ndarray:
        from falsr_cli.data.imresize import imresize

        lr_rgb = _check_lr(lr_rgb)
        return _check_sr(imresize(lr_rgb, self.scale), lr_rgb, self.scale, self.name)


def falsr_inputs(lr_rgb: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The FALSR graphs' inputs for one image: LR luma (1,h,w,1) and bicubic-upscaled PbPr (1,sh,sw,2)."""
    y = color.rgb_to_ypbpr(lr_rgb)[..., :1]
    pbpr = color.chroma_for_upscale(lr_rgb, scale)
    return y[None].astype(np.float32), pbpr[None].astype(np.float32)


class InterfaceUpscaler:
    """A callable with the FALSR interface: LR luma (1,h,w,1) and upscaled PbPr (1,sh,sw,2) → RGB in [0,1]."""

    def __init__(
        self, fn: Callable[[np.ndarray, np.ndarray], Any], scale: int = 2, name: str = "model"
    ) -> None:
        self.fn = fn
        self.scale = int(scale)
        self.name = name

    def upscale(self, lr_rgb: np.ndarray) -> np.ndarray:
        lr_rgb = _check_lr(lr_rgb)
        y, pbpr = falsr_inputs(lr_rgb, self.scale)
        out = np.asarray(self.fn(y, pbpr))
        if out.ndim != 4 or out.shape[0] != 1 or out.shape[3] != 3:
            raise FalsrError(f"model {self.name} returned shape {out.shape}, expected (1, H, W, 3) RGB")
        return _check_sr(color.to_uint8(out[0]), lr_rgb, self.scale, self.name)


class FrozenGraphUpscaler(InterfaceUpscaler):
    """A frozen graph with the FALSR interface (published .pb files, and our own exports)."""

    def __init__(self, graph: str | os.PathLike | Any, scale: int = 2, name: str | None = None) -> None:
        from falsr_cli.models.graphdef import FrozenGraph, load_falsr_graph

        if isinstance(graph, FrozenGraph):
            self.graph = graph
            default_name = Path(graph.source).stem
        else:
            self.graph = load_falsr_graph(graph)
            default_name = Path(graph).stem
        super().__init__(self.graph, scale, name or default_name)


class LumaUpscaler:
    """A network on luma only (e.g. a trained Keras model); colour is handled as the FALSR graphs do it.

    `luma_fn` maps float32 (1, h, w, 1) LR luma in [0,1] to (1, sh, sw, 1) HR luma; Pb/Pr come from the
    PIL-bicubic-upscaled LR image and the fixed YPbPr→RGB stage (clamped) makes the RGB output.
    """

    def __init__(self, luma_fn: Callable[[np.ndarray], Any], scale: int = 2, name: str = "model") -> None:
        self.luma_fn = luma_fn
        self.scale = int(scale)
        self.name = name

    def upscale(self, lr_rgb: np.ndarray) -> np.ndarray:
        lr_rgb = _check_lr(lr_rgb)
        y, pbpr = falsr_inputs(lr_rgb, self.scale)
        hr_y = np.asarray(self.luma_fn(y))
        if hr_y.ndim != 4 or hr_y.shape[0] != 1 or hr_y.shape[3] != 1:
            raise FalsrError(f"model {self.name} returned shape {hr_y.shape}, expected (1, H, W, 1) luma")
        if hr_y.shape[1:3] != pbpr.shape[1:3]:
            _check_sr(hr_y[0], lr_rgb, self.scale, self.name)
        rgb255 = color.ypbpr_to_rgb255(hr_y[0], pbpr[0])
        return color.to_uint8(rgb255 / 255.0)


def keras_luma_fn(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """numpy (1, h, w, 1) float32 → numpy luma through a Keras model, traced once for any image size."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32)], reduce_retracing=True)
    def run(y: tf.Tensor) -> tf.Tensor:
        return model(y, training=False)

    return lambda y: run(tf.constant(y)).numpy()


def keras_luma_upscaler(model: Any, scale: int = 2, name: str = "model") -> LumaUpscaler:
    """A LumaUpscaler over a Keras luma model, traced once for any image size (no retracing per size)."""
    return LumaUpscaler(keras_luma_fn(model), scale=scale, name=name)


# ---- the network as `falsr upscale` runs it, tile by tile ----


@dataclass
class SRModel:
    """A network as `upscale` runs it: luma only, or the full FALSR interface; neither means bicubic."""

    name: str
    scale: int | None  # None: any scale (bicubic)
    receptive_field: int | None  # LR pixels; None when unknown
    luma: Callable[[np.ndarray], np.ndarray] | None = None  # (1,h,w,1) f32 → (1,sh,sw,1)
    interface: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # y, pbpr → RGB [0,1]
    # Working memory per LR pixel, in floats (cost_model.working_floats): sizes tiles to a memory budget.
    working_floats: int | None = None
    runtime: str = "tf"  # what runs it: tf, or tflite (XNNPACK: an exported .tflite or --engine xnnpack)

    @classmethod
    def of_architecture(cls, name: str, scale: int | None, arch: Any, **run: Any) -> SRModel:
        """An SRModel whose receptive field and working memory come from `arch` (None: unknown)."""
        floats = None
        if arch is not None:
            from falsr_cli.cost.cost_model import working_floats

            floats = working_floats(arch)
        return cls(name, scale, receptive_field_of(arch), working_floats=floats, **run)

    @property
    def bicubic(self) -> bool:
        return self.luma is None and self.interface is None

    def rgb01(self, y: np.ndarray, pbpr: np.ndarray) -> np.ndarray:
        """(1,h,w,1) LR luma and (1,sh,sw,2) PbPr → (sh,sw,3) RGB in [0,1]."""
        if self.interface is not None:
            return np.asarray(self.interface(y, pbpr))[0]
        hr_y = np.asarray(self.luma(y))[0]
        return color.ypbpr_to_rgb255(hr_y, pbpr[0]) / 255.0


def keras_sr_model(model: Any, arch: Any = None, name: str = "model") -> SRModel:
    """An SRModel over a Keras luma model, traced once for every tile size."""
    scale = arch.scale if arch is not None else None
    if scale is None:
        from falsr_cli.models.probe import model_scale

        scale = model_scale(model)
    return SRModel.of_architecture(name, scale, arch, luma=keras_luma_fn(model))


def receptive_field_of(arch: Any) -> int | None:
    """LR pixels the network sees, from its architecture; None when the architecture is unknown."""
    if arch is None:
        return None
    from falsr_cli.cost.cost_model import receptive_field

    return receptive_field(arch)
