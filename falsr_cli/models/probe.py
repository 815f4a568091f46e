"""Checks every runtime shares: a model's scale from one probe run, the fixed verification input, and
the bound within which two ways of running one network must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from falsr_cli.errors import FalsrError
from falsr_cli.models.graphdef import interface_graph

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

FLOAT_TOLERANCE = 1e-5
# Quantized TFLite: weights rounded to fp16 / int8 (activations quantized on the fly for int8), so the
# output moves by a fraction of a grey level (fp16) or a few grey levels (int8) — bounds with headroom.
# int8-full quantizes the activations too (the RGB output to 256 levels on top of the network's own error).
QUANT_TOLERANCE = {"fp16": 5e-3, "int8": 6e-2, "int8-full": 1.2e-1}
# The fixed verification input: odd sizes and batch 2 prove batch, height and width are dynamic.
VERIFY_BATCH, VERIFY_HW = 2, (23, 17)


def verify_inputs(interface: str, scale: int, seed: int = 20190121, hw: tuple[int, int] | None = None,
                  batch: int | None = None) -> list[np.ndarray]:
    """The fixed input every export is checked on: smooth random luma (and chroma) of odd size, batch 2
    (or the fixed size and batch of an export with fixed shapes)."""
    rng = np.random.default_rng(seed)
    h, w = hw or VERIFY_HW
    n = batch or VERIFY_BATCH

    def smooth(shape: tuple[int, ...]) -> np.ndarray:
        # Image-like values (neighbours correlated) rather than white noise.
        x = rng.random(shape)
        for axis in (1, 2):
            x = (x + np.roll(x, 1, axis=axis) + np.roll(x, -1, axis=axis)) / 3.0
        return x.astype(np.float32)

    y = smooth((n, h, w, 1))
    if interface == "y":
        return [y]
    pbpr = 0.4 * (smooth((n, h * scale, w * scale, 2)) - 0.5)
    return [y, pbpr.astype(np.float32)]


PROBE = 8  # LR side of the probe run that measures a model's scale


def probe_scale(fn: Callable[..., np.ndarray], interface: bool = False, name: str = "model") -> int:
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


def check_imported_graph(graph_def: tf.compat.v1.GraphDef, model: keras.Model, source: str) -> float:
    """Max abs difference between a graph and the Keras model imported from it, on the export check input.

    Refuses the import when they disagree (say a JSON sidecar naming another architecture of the same
    shapes), so an export never starts from weights that do not reproduce the graph.
    """
    from falsr_cli.models.builder import build_falsr_interface

    graph, is_interface = interface_graph(graph_def, source)
    keras_model = build_falsr_interface(model) if is_interface else model
    xs = verify_inputs("falsr" if is_interface else "y", probe_scale(model, name=source))
    expected = np.asarray(keras_model(xs if len(xs) > 1 else xs[0], training=False))
    got = graph(*xs)
    diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.shape == expected.shape else np.inf
    if not diff <= FLOAT_TOLERANCE:
        raise FalsrError(
            f"{source}: the network rebuilt from the graph does not reproduce it (max abs diff {diff:.3g}, "
            f"bound {FLOAT_TOLERANCE:g}); is the JSON beside it from another model?"
        )
    return diff
