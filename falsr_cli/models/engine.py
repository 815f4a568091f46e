"""Inference engines for a luma network: TensorFlow's own kernels, or XNNPACK through the TFLite interpreter.

On an AVX2 CPU the TFLite interpreter's XNNPACK delegate ran falsr's networks 1.4–1.6× faster than
TensorFlow; in float32 it gives the same scores to within float rounding (benchmarks/inference_speed.py
measures both on this machine). `xnnpack`
converts the Keras luma model once — cached by the content hash of its architecture and weights in the
machine's cache (paths.cache_dir: `~/.cache/falsr/tflite/`, or `<data dir>/cache/tflite/` where a data folder
is chosen) — and keeps up to four interpreters allocated for the input shapes it last saw
(the tiles of a photo share one shape, runtime.tiling; Set5's five images need five); a fifth shape
resizes the least recently used one. `auto` picks TensorFlow where a GPU is visible (XNNPACK is a CPU
library) and, on a CPU, XNNPACK unless TensorFlow ran FALSR-B in under TF_MARGIN of XNNPACK's time on
this machine (the fastest of ENGINE_RUNS calls each, measured once, cached): the processors falsr runs on
differ (oneDNN's AVX-512 kernels against XNNPACK's), and where they tie XNNPACK wins the command by far: a
.pb converted once opens again from its conversion (keyed by the file's bytes) without importing
TensorFlow, and TensorFlow's tiles cost more around the network (on Zen 4, networks tied at 240×240,
`falsr upscale` of a 1000×750 photo took 1.11× / 0.86× / 0.95× a plain TensorFlow script with `--engine
tf` and 0.76× / 0.76× / 0.59× with XNNPACK for FALSR-B/A/C-res).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli import atomic
from falsr_cli.errors import FalsrError
from falsr_cli.machine import cpu_model, machine_id, usable_cores
from falsr_cli.models.latency import QUANTIZE, network_runner, random_luma_model, time_interleaved
from falsr_cli.models.tflite import TFLiteModel, luma_tflite_bytes
from falsr_cli.paths import cache_dir as machine_cache
from falsr_cli.space.architecture import PRESETS

if TYPE_CHECKING:
    import keras

ENGINES = ("auto", "tf", "xnnpack", "xnnpack-int8")
# `xnnpack-int8`: the network converted with int8 weights and activations quantized on the fly (dynamic
# range), which XNNPACK runs with int8 kernels: 2.3–2.9× the float32 network's speed at −0.001 to −0.006 dB
# on Set5 for the shipped -res models (benchmarks/results/quantized-speed-240x240.json). Never `auto`'s
# choice: it changes the output (by up to a grey level), so it is asked for by name.
XNNPACK_ENGINES = ("xnnpack", "xnnpack-int8")
TF_MARGIN = 0.75  # `auto` takes TensorFlow only where it runs FALSR-B in under 75 % of XNNPACK's time
# Calls timed per engine, in turns, after ENGINE_WARMUP rounds; the fastest counts. Timed one engine after
# the other (median of 3), a tie tipped to TensorFlow in one of four fresh measurements here, and again
# with the fastest of 5: this VM's speed drifts by tens of percent within a process (XNNPACK 465 ms
# against 285–299 in the others), and the choice is cached for good.
ENGINE_RUNS, ENGINE_WARMUP = 5, 2
# Device nodes a GPU TensorFlow needs (NVIDIA, ROCm, WSL2): without one no GPU can be visible.
GPU_DEVICE_NODES = ("nvidia[0-9]*", "kfd", "dxg")


def gpu_visible() -> bool:
    if not any(any(Path("/dev").glob(pattern)) for pattern in GPU_DEVICE_NODES):
        return False  # and TensorFlow's import (1.5–2 s) is spared
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def tensorflow_version() -> str:
    """TensorFlow's version, from its package metadata (importing it costs 1.5–2 s)."""
    for dist in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    import tensorflow as tf

    return tf.__version__


def resolve_engine(engine: str, data_dir: str | os.PathLike | None = None) -> str:
    """`auto` → the faster engine on this host (TensorFlow where a GPU is visible; on a CPU, the one that ran
    FALSR-B faster here, measured once per machine and cached); the others stay."""
    if engine not in ENGINES:
        raise FalsrError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    if gpu_visible():
        return "tf"
    return faster_cpu_engine(data_dir)["choice"]


def engine_choice_file(data_dir: str | os.PathLike | None = None) -> Path:
    """Where `auto`'s measurement is kept: keyed by the processor, TensorFlow's version and the rule (a
    choice made under the earlier rule, TensorFlow on a tie, is measured again)."""
    return machine_cache(data_dir) / f"engine-{machine_id(tensorflow_version(), 'tf-under-0.75-turns5')}.json"


def faster_cpu_engine(data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Which engine runs FALSR-B (240×240 LR, all cores) faster on this machine: measured once, cached under
    the machine's identity (processors differ: oneDNN on AVX-512 may beat XNNPACK, which wins on AVX2)."""
    path = engine_choice_file(data_dir)
    if path.is_file():
        try:
            known = atomic.read_json(path)
            if isinstance(known, dict) and known.get("choice") in ("tf", "xnnpack"):
                return known
        except FalsrError:
            pass
    model = random_luma_model(PRESETS["FALSR-B"].with_residual(True))
    runners = {e: network_runner(model, e, usable_cores(), (240, 240)) for e in ("tf", "xnnpack")}
    ms = {e: min(t) for e, t in time_interleaved(runners, ENGINE_RUNS, ENGINE_WARMUP).items()}
    # XNNPACK unless TensorFlow is clearly faster: the two tie within noise on AVX-512, and then XNNPACK's
    # command is much shorter (module docstring).
    choice = "tf" if ms["tf"] < TF_MARGIN * ms["xnnpack"] else "xnnpack"
    known = {"choice": choice, "tf_ms": ms["tf"], "xnnpack_ms": ms["xnnpack"],
             "statistic": f"fastest of {ENGINE_RUNS}, in turns", "tf_margin": TF_MARGIN, "cpu": cpu_model(),
             "threads": usable_cores(), "input": [240, 240], "network": "FALSR-B-res (random weights)"}
    try:
        atomic.write_json(path, known)
    except OSError:
        pass
    return known


def model_digest(luma_model: keras.Model) -> str:
    """A content hash of a Keras model: its layer configuration and every weight's bytes."""
    h = hashlib.sha256()
    h.update(str(luma_model.to_json()).encode("utf-8"))
    for w in luma_model.get_weights():
        a = np.ascontiguousarray(w)
        h.update(str((a.dtype.str, a.shape)).encode("ascii"))
        h.update(a.tobytes())
    return h.hexdigest()[:24]


# A cache entry is the key it was made for and the sha256 of its .tflite, then the .tflite itself: an entry
# cut short, damaged or swapped for another model's (which XNNPACK would run without a word under this
# model's name) does not match what it claims and is converted again.
_ENTRY_MAGIC = b"falsr-tflite-cache-1\n"


def _entry(key: str, content: bytes) -> bytes:
    return _ENTRY_MAGIC + key.encode("ascii") + b"\n" + hashlib.sha256(content).digest() + content


def _read_entry(path: Path, key: str) -> bytes | None:
    """The .tflite of a cache entry made for `key`, or None when it is absent or not whole and that."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = _ENTRY_MAGIC + key.encode("ascii") + b"\n"
    if not data.startswith(head) or len(data) < len(head) + 32:
        return None
    digest, content = data[len(head):len(head) + 32], data[len(head) + 32:]
    return content if hashlib.sha256(content).digest() == digest else None


def conversion_suffix(engine: str) -> str:
    """What a cache key of `engine`'s conversion ends with: nothing for float32, `-int8` for xnnpack-int8."""
    quantize = QUANTIZE[engine]
    return "" if quantize == "none" else f"-{quantize}"


def cached_tflite(luma_model: keras.Model, data_dir: str | os.PathLike | None = None,
                  engine: str = "xnnpack") -> bytes:
    """The .tflite of a luma model that `engine` (an XNNPACK one) runs, from the cache when this exact model
    was converted so before (and the entry proves it: see _entry)."""
    key = model_digest(luma_model) + conversion_suffix(engine)
    path = cache_dir(data_dir) / f"{key}.tflite"
    content = _read_entry(path, key)
    if content is not None:
        return content
    content = luma_tflite_bytes(luma_model, QUANTIZE[engine])
    try:
        atomic.write_bytes(path, _entry(key, content))
    except OSError:
        pass  # a read-only data folder: convert again next time
    return content


def graph_conversion(digest: str, data_dir: str | os.PathLike | None = None) -> tuple[bytes, dict] | None:
    """(luma .tflite, {arch, scale}) of a .pb whose bytes hash to `digest`, converted and checked before
    (remember_graph_conversion); None when there is no whole entry."""
    key = f"pb-{digest}"
    content = _read_entry(cache_dir(data_dir) / f"{key}.tflite", key)
    if content is None:
        return None
    try:
        meta = atomic.read_json(cache_dir(data_dir) / f"{key}.json")
    except (FalsrError, OSError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key or not isinstance(meta.get("scale"), int):
        return None
    return content, meta


def remember_graph_conversion(digest: str, content: bytes, arch_text: str | None, scale: int,
                              data_dir: str | os.PathLike | None = None) -> None:
    """Keep a .pb's luma conversion under the hash of the file's bytes (its import was checked against
    the graph), so that the same file opens again without TensorFlow."""
    key = f"pb-{digest}"
    try:
        atomic.write_bytes(cache_dir(data_dir) / f"{key}.tflite", _entry(key, content))
        atomic.write_json(cache_dir(data_dir) / f"{key}.json",
                          {"key": key, "arch": arch_text, "scale": scale})
    except OSError:
        pass  # a read-only data folder: import the graph again next time


def keras_luma_fn(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """numpy (1, h, w, 1) float32 → numpy luma through a Keras model, traced once for any image size."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32)], reduce_retracing=True)
    def run(y: tf.Tensor) -> tf.Tensor:
        return model(y, training=False)

    return lambda y: run(tf.constant(y)).numpy()


def luma_function(luma_model: keras.Model, engine: str = "auto", threads: int | None = None,
                  name: str = "model", data_dir: str | os.PathLike | None = None, cache: bool = True
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """(numpy luma function, the engine used) for a Keras luma model; `cache` keeps its conversion (not
    for a model used once, such as a search candidate)."""
    used = resolve_engine(engine, data_dir)
    if used in XNNPACK_ENGINES:
        content = (cached_tflite(luma_model, data_dir, used) if cache
                   else luma_tflite_bytes(luma_model, QUANTIZE[used]))
        # a luma `.tflite` in memory, with TFLiteModel's interpreters kept per input shape
        return TFLiteModel(content, threads or usable_cores(), name), used
    return keras_luma_fn(luma_model), used


def cache_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return machine_cache(data_dir) / "tflite"
