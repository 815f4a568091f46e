"""Tiny FALSR-space networks for the export and upscale tests, with weights large enough to matter.

The builder's N(0, 0.02) initialisation makes a fresh network output almost nothing, so a comparison
of two ways of running it would pass whatever they did; He-scaled random weights keep the signal alive.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

TINY_CELLS = ["conv_f16_k3_b2_skip", "group2_f16_k3_b1_noskip"]
TINY_SOURCES = [[0], [0, 1], [1, 2]]


def tiny_arch(scale: int = 2) -> Any:
    from falsr_cli.space.architecture import Architecture

    return Architecture.from_sources(TINY_CELLS, TINY_SOURCES, scale=scale, features=8)


def lively(model: Any, seed: int = 0) -> Any:
    """Give every conv He-scaled random weights and small random biases (in place); returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = weights[0]
        fan_in = int(np.prod(kernel.shape[:-1])) if kernel.ndim == 4 else 1
        if "dw" in layer.name:  # depthwise: one input channel per output
            fan_in = int(np.prod(kernel.shape[:2]))
        new = [rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32)]
        new += [rng.normal(0.0, 0.05, w.shape).astype(np.float32) for w in weights[1:]]
        layer.set_weights(new)
    return model


def tiny_model(seed: int = 0, scale: int = 2) -> tuple[Any, Any]:
    """(architecture, Keras luma model) of the tiny network with lively weights."""
    from falsr_cli.models.builder import build_luma_model

    arch = tiny_arch(scale)
    return arch, lively(build_luma_model(arch, seed=seed), seed)


@functools.cache
def shared_tiny() -> tuple[Any, Any]:
    """One tiny model per test session (building and tracing costs seconds on a shared CPU)."""
    return tiny_model(seed=0)


@functools.cache
def shared_tiny_sr() -> Any:
    """The shared tiny model as an `upscale` SRNet (receptive field known)."""
    from falsr_cli.models.network import SRNet

    arch, model = shared_tiny()
    return SRNet.from_keras(model, arch, name="tiny")
