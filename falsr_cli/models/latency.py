"""Measured latency on this machine: whole networks, and the per-operation profiles of the latency model.

Runtimes: `tf` (TensorFlow's own CPU kernels, a traced function) and `xnnpack`, `xnnpack-fp16`,
`xnnpack-int8` (the TFLite interpreter with its XNNPACK delegate, float32 / fp16 weights / int8
dynamic-range weights). Times are of the luma network alone (LR luma in, HR luma out) on one image of the
given LR size, after warm-up; figures are the median and the 90th percentile of `runs` calls.

A profile (`build_profile`) times every operation of the space once (`cost.latency_model.profile_ops`) and
whole random networks to calibrate the sum. It is cached in `<data dir>/latency/` under the machine's
identity (CPU model, vector flags, cores, TensorFlow version), so another machine never reuses it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli import atomic
from falsr_cli.cost.cost_model import working_floats
from falsr_cli.cost.latency_model import (
    PROFILE_FORMAT,
    Op,
    fit_calibration,
    fit_groups,
    profile_ops,
    raw_parts,
)
from falsr_cli.errors import FalsrError
from falsr_cli.machine import available_memory, describe, machine_id, usable_cores
from falsr_cli.models.tflite import luma_tflite_bytes, make_interpreter, tflite_bytes
from falsr_cli.paths import data_dir as resolve_data_dir
from falsr_cli.space.architecture import Architecture
from falsr_cli.space.cells import DEFAULT_SPACE

if TYPE_CHECKING:
    import keras

RUNTIMES = ("tf", "xnnpack", "xnnpack-fp16", "xnnpack-int8")
QUANTIZE = {"xnnpack": "none", "xnnpack-fp16": "fp16", "xnnpack-int8": "int8"}
CALIBRATION_NETWORKS = 16  # enough to fit a weight per family of operations (cost/latency_model.py)
MAX_SIDE = 8192  # the largest input side a network is measured on (`parse_hw(..., most=MAX_SIDE)`)
_OPS_PER_MODEL = 24  # operations converted together into one multi-signature .tflite (about 3 GB at 240x240)


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise FalsrError(f"runtime: {runtime!r} is not one of {', '.join(RUNTIMES)}")
    return runtime


def default_threads(threads: int | None, flag: str = "--threads") -> int:
    """The thread count asked for, else the cores this process may use."""
    if threads is not None:
        if threads < 1:
            raise FalsrError(f"{flag} {threads} must be at least 1")
        return threads
    return usable_cores()


def set_tf_threads(threads: int) -> int:
    """Pin TensorFlow's intra-op pool to `threads` (possible only before TF runs anything); the count used."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TF is already running in this process: its pool keeps its size, which is reported
    return tf.config.threading.get_intra_op_parallelism_threads() or threads


def summarise(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, 90th percentile, mean and minimum of timings in ms."""
    a = np.asarray(samples_ms, dtype=np.float64)
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)),
            "mean_ms": float(a.mean()), "min_ms": float(a.min())}


def time_calls(fn: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Milliseconds of each of `runs` calls of `fn`, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def time_interleaved(fns: dict[str, Callable[[], Any]], runs: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of `runs` calls of each of `fns`, taken in turns (one call of each per round) after
    `warmup` untimed rounds: a machine whose speed drifts (a shared VM, a clock ramping) slows all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[name].append((time.perf_counter() - t) * 1000.0)
    return out


# ---- whole networks ----------------------------------------------------------------------------------


def network_runner(luma_model: keras.Model, runtime: str, threads: int,
                   hw: tuple[int, int]) -> Callable[[], Any]:
    """A no-argument call running the luma network once on an LR image of `hw` in `runtime`."""
    check_runtime(runtime)
    x = np.random.default_rng(0).random((1, hw[0], hw[1], 1), dtype=np.float32)
    if runtime == "tf":
        import tensorflow as tf

        fn = tf.function(lambda y: luma_model(y, training=False), reduce_retracing=True)
        xt = tf.constant(x)
        return lambda: fn(xt).numpy()

    it = make_interpreter(luma_tflite_bytes(luma_model, QUANTIZE[runtime]), threads)
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, x.shape, strict=False)
    it.allocate_tensors()
    it.set_tensor(index, x)
    return it.invoke


# XNNPACK's working memory against TensorFlow's estimate (see runtime/upscale.py's TFLITE_MEMORY_FACTOR),
# and the conversion's own copy of the graph: a little more room than TensorFlow.
_TFLITE_MEMORY_FACTOR = 1.7


def check_memory(arch: Architecture, hw: tuple[int, int], runtime: str, flag: str = "--input",
                 available: int | None = None) -> None:
    """Refuse an input size whose forward pass cannot fit in memory, before anything is allocated (as
    `falsr train` does for a batch), saying what it would need and what fits."""
    per_pixel = 4 * working_floats(arch) * (1.0 if runtime == "tf" else _TFLITE_MEMORY_FACTOR)
    need = per_pixel * hw[0] * hw[1]
    have = available_memory() if available is None else available
    if have is not None and need > have:
        side = int((have / per_pixel) ** 0.5)
        raise FalsrError(f"{flag} {hw[0]}x{hw[1]} needs about {need / 2**30:.1f} GiB to run this network "
                         f"({runtime}), more than the {have / 2**30:.1f} GiB available; use {side}x{side} or "
                         "smaller")


def measure_network(luma_model: keras.Model, runtime: str, threads: int, hw: tuple[int, int], runs: int = 20,
                    warmup: int = 3) -> dict[str, Any]:
    """Latency of one luma network: samples and their summary (ms)."""
    return measure_calls(network_runner(luma_model, runtime, threads, hw), runtime, threads, hw, runs, warmup)


def measure_calls(run: Callable[[], Any], runtime: str, threads: int, hw: tuple[int, int], runs: int = 20,
                  warmup: int = 3) -> dict[str, Any]:
    """Latency of a call running a network once on an LR image of `hw`: samples and their summary (ms)."""
    samples = time_calls(run, runs, warmup)
    return {"runtime": runtime, "threads": threads, "input": list(hw), "runs": runs, "warmup": warmup,
            **summarise(samples), "samples_ms": samples}


def random_luma_model(arch: Architecture) -> keras.Model:
    """The architecture's luma network with random weights (latency does not depend on their values)."""
    from falsr_cli.models.builder import build_luma_model

    return build_luma_model(arch, seed=0, init="he")


# ---- single operations (the profile) ------------------------------------------------------------------


def _op_function(op: Op, scale: int, rng: np.random.Generator) -> Callable[[Any], dict]:
    """The operation as the builder makes it, with constant weights: x → {"out": y}."""
    import tensorflow as tf

    def const(*shape: int) -> Any:
        return tf.constant(rng.standard_normal(shape).astype(np.float32) * 0.05)

    if op.kind == "conv":
        g = op.groups
        kernel = const(op.kernel, op.kernel, op.cin // g, op.cout)
        bias = const(op.cout)

        def fn(x):
            if g == 1:
                y = tf.nn.conv2d(x, kernel, 1, "SAME")
            else:  # the builder's GroupConv2D: split → conv per group → concat
                xs, ks = tf.split(x, g, axis=-1), tf.split(kernel, g, axis=-1)
                y = tf.concat([tf.nn.conv2d(a, k, 1, "SAME") for a, k in zip(xs, ks, strict=True)], axis=-1)
            y = tf.nn.bias_add(y, bias)
            return {"out": tf.nn.relu(y) if op.relu else tf.sigmoid(y) if op.sigmoid else y}
    elif op.kind == "dwconv":
        kernel, bias = const(op.kernel, op.kernel, op.cin, 1), const(op.cin)
        rate = [op.dilation, op.dilation]

        def fn(x):
            y = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME", dilations=rate)
            return {"out": tf.nn.relu(tf.nn.bias_add(y, bias))}
    elif op.kind == "add":
        def fn(x):
            return {"out": x + x}
    elif op.kind == "mul":
        def fn(x):
            return {"out": x * x}
    elif op.kind == "concat":
        def fn(x):  # two sources of half the width each, as a typical wiring has
            return {"out": tf.concat([x, x], axis=-1)}
    elif op.kind == "shuffle":
        def fn(x):
            return {"out": tf.nn.depth_to_space(x, scale)}
    elif op.kind == "bicubic":
        from falsr_cli.models.builder import bicubic_phase_kernel

        kernel = tf.constant(bicubic_phase_kernel(scale))
        r = int(kernel.shape[0]) // 2

        def fn(x):
            x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="SYMMETRIC")
            return {"out": tf.nn.depth_to_space(tf.nn.conv2d(x, kernel, 1, "VALID"), scale)}
    else:
        raise FalsrError(f"internal: unknown operation kind {op.kind!r}")
    return fn


def _op_input_shape(op: Op, hw: tuple[int, int], scale: int, null: bool = False) -> list[int]:
    if null:
        return [1, 1, 1, 1]
    h, w = (hw[0] * scale, hw[1] * scale) if op.hr else hw
    return [1, h, w, op.cin // 2 if op.kind == "concat" else op.cin]


def op_runners(op_list: Sequence[Op], runtime: str, threads: int, hw: tuple[int, int],
               scale: int = 2, null_key: str | None = None) -> dict[str, Callable[[], Any]]:
    """{op key: no-argument call running that operation once on an input of its size}; the op named
    `null_key` runs on a 1×1 input (the cost of a call alone)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    runners: dict[str, Callable[[], Any]] = {}
    if runtime == "tf":
        for op in op_list:
            shape = _op_input_shape(op, hw, scale, op.key == null_key)
            fn = tf.function(_op_function(op, scale, rng), input_signature=[tf.TensorSpec(shape, tf.float32)])
            x = tf.constant(rng.random(shape, dtype=np.float32))
            runners[op.key] = (lambda f, xx: lambda: f(xx)["out"].numpy())(fn, x)
        return runners

    for start in range(0, len(op_list), _OPS_PER_MODEL):
        chunk = list(op_list[start:start + _OPS_PER_MODEL])
        functions, inputs = [], {}
        for i, op in enumerate(chunk):
            shape = _op_input_shape(op, hw, scale, op.key == null_key)
            body = _op_function(op, scale, rng)
            body.__name__ = f"op{i}"  # the signature's name in the multi-signature .tflite
            functions.append(tf.function(body, input_signature=[tf.TensorSpec(shape, tf.float32, name="x")])
                             .get_concrete_function())
            inputs[f"op{i}"] = rng.random(shape, dtype=np.float32)
        it = make_interpreter(tflite_bytes(functions, QUANTIZE[runtime]), threads)
        keys = list(it.get_signature_list())
        for i, op in enumerate(chunk):
            # One function converts to the single signature "serving_default", several keep their names.
            runner = it.get_signature_runner(f"op{i}" if len(chunk) > 1 else keys[0])
            runners[op.key] = (lambda r, xx: lambda: r(x=xx))(runner, inputs[f"op{i}"])
    return runners


# ---- profiles -------------------------------------------------------------------------------------------


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__


def profile_path(runtime: str, threads: int, hw: tuple[int, int], scale: int = 2, features: int = 32,
                 data_dir: str | os.PathLike | None = None, space: str = DEFAULT_SPACE) -> Path:
    """Where the profile of this machine, runtime, threads, input and space lives."""
    tail = "" if space == DEFAULT_SPACE else f"-{space}"
    name = f"{machine_id(_tf_version())}-{runtime}-t{threads}-{hw[0]}x{hw[1]}-x{scale}f{features}{tail}.json"
    return resolve_data_dir(data_dir) / "latency" / name


def calibration_architectures(count: int = CALIBRATION_NETWORKS, seed: int = 12345, n: int = 7,
                              scale: int = 2, features: int = 32,
                              space: str = DEFAULT_SPACE) -> list[Architecture]:
    """Random networks (a seed of their own, apart from any validation set) spread over the space."""
    rng = np.random.default_rng(seed)
    return [Architecture.random(rng, n=n, scale=scale, features=features, residual=bool(i % 2), space=space)
            for i in range(count)]


def build_profile(runtime: str, threads: int | None = None, hw: tuple[int, int] = (240, 240), scale: int = 2,
                  features: int = 32, runs: int = 10, warmup: int = 2,
                  calibration: Sequence[Architecture] | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  space: str = DEFAULT_SPACE) -> dict[str, Any]:
    """Time every operation of the space and a few whole networks; the profile as a dict."""
    check_runtime(runtime)
    threads = default_threads(threads)
    if runtime == "tf":
        threads = set_tf_threads(threads)
    op_list = profile_ops(scale, features, space)
    started = time.time()
    # Each timed call of a single operation also pays the call itself (Python → runtime), which a whole
    # network pays once, not per operation: it is measured on a 1-pixel add and taken off every time.
    null = Op("add", 0, 1, 1)
    null_run = op_runners([null], runtime, threads, hw, scale, null_key=null.key)[null.key]
    overhead = summarise(time_calls(null_run, 5 * runs, warmup))["median_ms"]
    table: dict[str, float] = {}
    # A chunk at a time: every runner holds its input and allocated tensors (up to 240x240x480 floats each),
    # so the whole space at once would take tens of GB.
    for start in range(0, len(op_list), _OPS_PER_MODEL):
        chunk = op_list[start:start + _OPS_PER_MODEL]
        runners = op_runners(chunk, runtime, threads, hw, scale)
        for op in chunk:
            table[op.key] = max(summarise(time_calls(runners[op.key], runs, warmup))["median_ms"] - overhead,
                                0.0)
            if progress:
                progress("operations", len(table), len(op_list))
        del runners
    archs = list(calibration) if calibration is not None else calibration_architectures(
        scale=scale, features=features, space=space)
    networks = []
    for i, arch in enumerate(archs):
        measured = measure_network(random_luma_model(arch), runtime, threads, hw, runs=max(3, runs // 2),
                                   warmup=1)["median_ms"]
        parts = raw_parts(arch, table)
        networks.append({"text": arch.to_text(), "raw_ms": sum(parts.values()), "parts": parts,
                         "measured_ms": measured})
        if progress:
            progress("calibration networks", i + 1, len(archs))
    measured_ms = [n["measured_ms"] for n in networks]
    cal = {**fit_calibration([n["raw_ms"] for n in networks], measured_ms),
           **(fit_groups([n["parts"] for n in networks], measured_ms) or {})}
    return {"format": PROFILE_FORMAT, "machine": {**describe(), "id": machine_id(_tf_version())},
            "tensorflow": _tf_version(), "runtime": runtime, "threads": threads, "input": list(hw),
            "scale": scale, "features": features, "space": space, "runs": runs, "warmup": warmup,
            "seconds": round(time.time() - started, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "call_overhead_ms": overhead, "ops": table, "calibration": {**cal, "networks": networks}}


def profile_damage(profile: Any, runtime: str, threads: int, hw: tuple[int, int], scale: int,
                   features: int) -> str | None:
    """What is wrong with a cached profile (None: whole, and the profile of exactly this key): a cache entry
    edited, cut short or copied from another runtime, thread count or input is never used as it is."""
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        return "not a falsr latency profile"
    claimed = {"runtime": runtime, "threads": threads, "input": list(hw), "scale": scale,
               "features": features}
    for key, value in claimed.items():
        if profile.get(key) != value:
            return f"{key} is {profile.get(key)!r}, its name says {value!r}"
    ops, cal = profile.get("ops"), profile.get("calibration")
    if not isinstance(ops, dict) or not ops or not all(isinstance(v, int | float) and v >= 0
                                                       for v in ops.values()):
        return "no operation times"
    if not isinstance(cal, dict) or not all(isinstance(cal.get(k), int | float) for k in ("a", "b")) \
            or not isinstance(cal.get("networks"), list) or not all(
                isinstance(n, dict) and isinstance(n.get("raw_ms"), int | float)
                and isinstance(n.get("measured_ms"), int | float) and n["measured_ms"] > 0
                for n in cal["networks"]):
        return "no calibration"
    groups = cal.get("groups")
    if groups is not None and not (isinstance(groups, dict) and isinstance(cal.get("b_groups"), int | float)
                                   and all(isinstance(v, int | float) for v in groups.values())):
        return "a damaged calibration by operation family"
    machine = profile.get("machine")
    if not isinstance(machine, dict) or not isinstance(machine.get("cpu"), str) \
            or not isinstance(profile.get("seconds"), int | float):
        return "no machine or build time"
    return None


def load_profile(runtime: str, threads: int | None = None, hw: tuple[int, int] = (240, 240), scale: int = 2,
                 features: int = 32, data_dir: str | os.PathLike | None = None, build: bool = True,
                 rebuild: bool = False, progress: Callable[[str, int, int], None] | None = None,
                 flag: str = "--input", space: str = DEFAULT_SPACE) -> tuple[dict[str, Any], Path]:
    """This machine's profile for the runtime, threads, input and space: from the cache, else built and
    cached (after checking that the widest networks it times fit in memory at that input, `flag`)."""
    threads = default_threads(threads)
    path = profile_path(runtime, threads, hw, scale, features, data_dir, space)
    damage = None
    if path.is_file() and not rebuild:
        try:
            profile = atomic.read_json(path)
        except FalsrError as e:
            profile, damage = None, str(e)
        damage = damage or profile_damage(profile, runtime, threads, hw, scale, features)
        if damage is None:
            return profile, path
    command = (f"falsr latency profile --runtime {runtime} --threads {threads} --input {hw[0]}x{hw[1]}"
               + ("" if space == DEFAULT_SPACE else f" --space {space}") + (" --rebuild" if damage else ""))
    if not build:
        if damage:
            raise FalsrError(f"the latency profile {path} is damaged ({damage}); run `{command}`")
        raise FalsrError(f"no latency profile for {runtime}, {threads} threads, {hw[0]}x{hw[1]} on this "
                         f"machine; run `{command}`")
    for arch in calibration_architectures(scale=scale, features=features, space=space):
        check_memory(arch, hw, runtime, flag)
    profile = build_profile(runtime, threads, hw, scale, features, progress=progress, space=space)
    atomic.write_json(path, profile)
    return profile, path
