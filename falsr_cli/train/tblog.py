"""TensorBoard event logging with TensorFlow core only (the `tensorboard` package is not a dependency).

`tf.summary.scalar`/`image` live in the tensorboard package; these write the same records through the core
`tf.summary.write` with the plugin metadata TensorBoard's scalars and images dashboards read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _metadata(plugin: str, data_class: str) -> Any:
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=summary_pb2.DataClass.Value(data_class),
    )


class EventLog:
    """Scalars and images for one run folder."""

    def __init__(self, logdir: str | os.PathLike) -> None:
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(str(logdir))
        self._scalar_meta = _metadata("scalars", "DATA_CLASS_SCALAR")
        self._image_meta = _metadata("images", "DATA_CLASS_BLOB_SEQUENCE")

    def scalar(self, tag: str, value: float, step: int) -> None:
        tf = self._tf
        with self.writer.as_default():
            value = tf.constant(float(value), tf.float32)
            tf.summary.write(tag, value, step=int(step), metadata=self._scalar_meta)

    def image(self, tag: str, rgb: np.ndarray, step: int) -> None:
        """One uint8 (H, W, 3) image, PNG-encoded as TensorBoard's image plugin stores it."""
        tf = self._tf
        png = tf.io.encode_png(tf.constant(np.ascontiguousarray(rgb, dtype=np.uint8)))
        h, w = rgb.shape[:2]
        blob = tf.stack([tf.constant(str(w)), tf.constant(str(h)), png])
        with self.writer.as_default():
            tf.summary.write(tag, blob, step=int(step), metadata=self._image_meta)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_scalars(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), …]} from the event files in `logdir` (for tests and quick looks)."""
    import tensorflow as tf

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.HasField("tensor"):
                    value = tf.make_ndarray(v.tensor)
                    if value.shape != () or value.dtype.kind != "f":
                        continue  # images and other blobs
                elif v.HasField("simple_value"):
                    value = v.simple_value
                else:
                    continue
                out.setdefault(v.tag, []).append((int(event.step), float(value)))
    return out
