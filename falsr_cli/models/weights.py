"""Weights into a built network: `.weights.h5` / `.keras` files and TF checkpoint prefixes, one path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from falsr_cli.errors import FalsrError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def load_weights(model: keras.Model, weights: str, arch_label: str) -> None:
    """Load `.weights.h5` / `.keras` / TF checkpoint `weights` into `model`; `random` keeps its init."""
    if weights == "random":
        return
    path = Path(weights)
    name = path.name
    try:
        if name.endswith(".weights.h5") or name.endswith(".keras") or name.endswith(".h5"):
            if not path.is_file():
                raise FalsrError(f"weights file not found: {path}")
            model.load_weights(str(path))
            return
        prefix = str(path)[: -len(".index")] if name.endswith(".index") else str(path)
        if Path(prefix + ".index").is_file():
            import tensorflow as tf

            restore_into(tf.train.Checkpoint(model=model), prefix, partial=True)
            return
    except FalsrError:
        raise
    except Exception as e:  # Keras/h5py/TF raise many types for mismatched or corrupt weights
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise FalsrError(f"cannot load weights {path} into {arch_label}: {first}") from None
    raise FalsrError(
        f"--weights {weights}: not a .weights.h5/.keras file or a checkpoint prefix, nor 'random'"
    )


def restore_into(checkpoint: tf.train.Checkpoint, prefix: str, partial: bool = False) -> None:
    """Read a TF checkpoint into `checkpoint`; every object it tracks must be found there."""
    import tensorflow as tf

    try:
        status = checkpoint.read(prefix)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError, IndexError) as e:  # IndexError: truncated data
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FalsrError(f"cannot restore checkpoint {prefix}: {msg[:300]}") from None
