"""Tiny frozen graphs for the runtime and evaluation tests (built in memory, written to tmp files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

Y_NAME = "input_image_evaluate_y"
PBPR_NAME = "input_image_evaluate_pbpr"
OUT_NAME = "test_sr_evaluator_i1_b0_g/target"


def nearest_luma(y: np.ndarray) -> np.ndarray:
    """What the tiny FALSR-interface graph does to luma: nearest-neighbour ×2."""
    return np.repeat(np.repeat(y, 2, axis=1), 2, axis=2)


def falsr_like_graph_def(plant: Callable | None = None):
    """A FALSR-interface graph: luma ×2 by a 1×1 conv + DepthToSpace, then the published colour stage.

    `plant(y, rgb) -> rgb` may add nodes (e.g. a ReadFile) before the output.
    """
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        y = tf.compat.v1.placeholder(tf.float32, [None, None, None, 1], name=Y_NAME)
        pbpr = tf.compat.v1.placeholder(tf.float32, [None, None, None, 2], name=PBPR_NAME)
        up = tf.nn.depth_to_space(tf.nn.conv2d(y, tf.ones((1, 1, 1, 4)), 1, "SAME"), 2)
        y255 = up * 255.0
        c = (pbpr + 0.5) * 255.0 - 128.0
        pb, pr = c[..., 0:1], c[..., 1:2]
        rgb = tf.concat([y255 + 1.402 * pr, y255 - 0.34414 * pb - 0.71414 * pr, y255 + 1.772 * pb], -1)
        rgb = tf.minimum(tf.maximum(rgb, 0.0), 255.0)
        if plant is not None:
            rgb = plant(y, rgb)
        tf.identity(rgb / 255.0, name=OUT_NAME)
    return graph.as_graph_def()


def other_graph_def():
    """A valid graph without the FALSR names: placeholder `image`, output `sr_out`."""
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        tf.identity(x * 2.0, name="sr_out")
    return graph.as_graph_def()


def plant_read_file(y, rgb):
    import tensorflow as tf

    data = tf.io.read_file("/etc/hostname")
    return rgb + 0.0 * tf.cast(tf.strings.length(data), tf.float32)


def plant_write_file_in_function(target: Path):
    """A WriteFile hidden inside a function of the graph's library, called on the output path."""
    import tensorflow as tf

    @tf.function
    def leak(x):
        tf.io.write_file(str(target), "pwned")
        return x

    def plant(y, rgb):
        return leak(rgb)

    return plant


def plant_py_func(y, rgb):
    import tensorflow as tf

    return tf.compat.v1.py_func(lambda a: a, [rgb], tf.float32)


def write_graph(path: Path, graph_def) -> Path:
    path.write_bytes(graph_def.SerializeToString())
    return path
