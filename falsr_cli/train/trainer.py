"""The training step: model, Adam and an L1 loss, compiled once as a `tf.function` with a fixed signature.

Built inside a `tf.distribute` strategy: all visible GPUs through MirroredStrategy (each replica takes its
slice of the global batch; gradients are summed across replicas by the optimizer), else the default
strategy on one device. Mixed precision uses a Keras dtype policy with the last layer kept in float32 and,
for float16, dynamic loss scaling.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from falsr_cli import machine
from falsr_cli.cost.cost_model import mult_adds
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import Architecture
from falsr_cli.train.config import TrainConfig, auto_precision

KERAS_POLICY = {"float32": "float32", "mixed_float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def configure_determinism(enabled: bool) -> None:
    """Same inputs → same bits: deterministic kernels and in-order tf.data (process-wide, once)."""
    if enabled:
        tf.config.experimental.enable_op_determinism()  # idempotent and cheap


def make_strategy(devices: str = "auto") -> tf.distribute.Strategy:
    """`auto`: every visible GPU (MirroredStrategy when there are several), else the default strategy.

    A comma-separated device list (e.g. `/cpu:0,/cpu:1`) forces MirroredStrategy over those devices.
    """
    if devices and devices != "auto":
        names = [d.strip() for d in devices.split(",") if d.strip()]

        def key(name: str) -> tuple[str, int]:
            spec = tf.DeviceSpec.from_string(name)
            return (spec.device_type or "").upper(), spec.device_index or 0

        visible = {key(d.name): d.name for d in tf.config.list_logical_devices()}
        for d in names:
            try:
                known = key(d) in visible
            except ValueError:
                known = False
            if not known:
                raise FalsrError(f"devices: {d} is not a visible device ({', '.join(visible.values())})")
        if len(names) == 1:
            return tf.distribute.OneDeviceStrategy(visible[key(names[0])])
        return tf.distribute.MirroredStrategy([visible[key(d)] for d in names])
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


def resolve_precision(precision: str, devices: str = "auto") -> str:
    """`auto` → the precision `auto_precision` picks for the devices the run trains on; others unchanged."""
    if precision != "auto":
        return precision
    on_gpu = devices in ("", "auto") or "gpu" in devices.lower()
    gpus = tf.config.list_physical_devices("GPU") if on_gpu else []
    # (0, 0) where the runtime does not say (e.g. ROCm): counted as no tensor cores.
    caps = [tuple(tf.config.experimental.get_device_details(g).get("compute_capability") or (0, 0))
            for g in gpus]
    return auto_precision(machine.cpu_flags(), caps)  # machine.: tests stand in for the CPU


@keras.saving.register_keras_serializable(package="falsr")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then constant, step decay or cosine decay; the same numbers as config.learning_rate."""

    def __init__(self, lr: float, schedule: str = "constant", steps: int = 1, warmup: int = 0,
                 decay_every: int = 1, decay_gamma: float = 0.5, min_lr: float = 0.0) -> None:
        self.lr = float(lr)
        self.schedule = schedule
        self.steps = int(steps)
        self.warmup = int(warmup)
        self.decay_every = max(1, int(decay_every))
        self.decay_gamma = float(decay_gamma)
        self.min_lr = float(min_lr)

    @classmethod
    def from_config_of_run(cls, config: TrainConfig) -> WarmupSchedule:
        return cls(config.lr, config.schedule, config.steps, config.warmup_steps, config.step_decay_every,
                   config.decay_gamma, config.min_lr)

    def __call__(self, iteration):
        i = tf.cast(iteration, tf.float64)
        base = tf.constant(self.lr, tf.float64)
        if self.schedule == "constant":
            rate = base
        elif self.schedule == "step":
            rate = base * tf.pow(tf.constant(self.decay_gamma, tf.float64), tf.floor(i / self.decay_every))
        else:
            span = float(max(1, self.steps - self.warmup))
            t = tf.clip_by_value((i - self.warmup) / span, 0.0, 1.0)
            rate = self.min_lr + (base - self.min_lr) * 0.5 * (1.0 + tf.cos(math.pi * t))
        if self.warmup:
            rate = tf.where(i < self.warmup, rate * (i + 1.0) / self.warmup, rate)
        return tf.cast(rate, tf.float32)

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "schedule": self.schedule, "steps": self.steps, "warmup": self.warmup,
                "decay_every": self.decay_every, "decay_gamma": self.decay_gamma, "min_lr": self.min_lr}


class Adam(keras.optimizers.Adam):
    """Keras Adam without the cross-replica all-reduce when there is a single replica.

    Keras' TF optimizer all-reduces the gradients through `ReplicaContext.all_reduce` even under the
    default strategy; that registers a `tf.custom_gradient` per trace which TensorFlow never releases,
    holding the whole traced step graph (~8 MB a model). The search traces thousands of models in one
    process. With one replica the all-reduce is the identity, so skipping it changes no number.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        if tf.distribute.get_strategy().num_replicas_in_sync == 1:
            return list(grads_and_vars)
        return super()._all_reduce_sum_gradients(grads_and_vars)


def build_model(arch: Architecture, precision: str = "float32", seed: int | None = None,
                init: str = "normal", reparam: bool = False) -> keras.Model:
    """The builder's luma model under a precision policy; its output layer computes in float32."""
    from falsr_cli.models.builder import build_luma_model

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(KERAS_POLICY[precision])
    try:
        model = build_luma_model(arch, seed=seed, init=init, reparam=reparam)
    finally:
        keras.config.set_dtype_policy(previous)
    if precision != "float32":
        # bfloat16 keeps 8 significant bits, about one grey level at full scale: the output layer computes
        # in float32 so the loss sees the output at full precision.
        model.layers[-1].dtype_policy = "float32"
    return model


# Training losses: L1 (the recipe's) or L2 (the mean squared error PSNR measures).
LOSSES = ("l1", "l2")


class Trainer:
    """Model, optimizer, step counter and one compiled train step for a fixed batch and patch size."""

    def __init__(self, arch: Architecture, *, batch: int, patch: int, lr: Any = 1e-4, beta1: float = 0.9,
                 beta2: float = 0.999, precision: str = "float32", jit: bool = False, seed: int | None = 0,
                 strategy: tf.distribute.Strategy | None = None, init: str = "normal",
                 reparam: bool = False, loss: str = "l1") -> None:
        if loss not in LOSSES:
            raise FalsrError(f"loss: must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.arch = arch
        self.loss = loss
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        if batch % self.replicas:
            raise FalsrError(f"batch: {batch} does not split evenly over {self.replicas} devices")
        self.batch = int(batch)
        self.patch = int(patch)
        self.lr_patch = self.patch // arch.scale
        self.precision = precision = resolve_precision(precision)
        self.jit = bool(jit)
        self.init = init
        with self.strategy.scope():
            self.model = build_model(arch, precision, seed, init, reparam)
            optimizer = Adam(learning_rate=lr, beta_1=beta1, beta_2=beta2, epsilon=1e-8)
            if precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)
            # Updates done so far; the data order is keyed by it (separate from the optimizer's counter,
            # which a float16 loss scaler does not advance on skipped steps).
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        spec = [tf.TensorSpec([self.batch, self.lr_patch, self.lr_patch, 1], tf.float32),
                tf.TensorSpec([self.batch, self.patch, self.patch, 1], tf.float32)]
        # One trace for the whole run (fixed signature). No autograph: the steps have no tensor-dependent
        # Python control flow, and converting them costs seconds per model.
        if self.replicas == 1:
            self.train_step = tf.function(self._single_step_fn, input_signature=spec, jit_compile=self.jit,
                                          autograph=False)
        else:
            # XLA compiles each replica's step; the cross-replica reduction stays outside it.
            self._replica_step = tf.function(self._replica_step_fn, jit_compile=self.jit, autograph=False)
            self.train_step = tf.function(self._train_step_fn, input_signature=spec, autograph=False)

    def checkpoint(self) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step)

    def _replica_step_fn(self, lr: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        if self.replicas > 1:
            per = self.batch // self.replicas
            start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * per
            lr = lr[start:start + per]
            hr = hr[start:start + per]
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            sr = tf.cast(self.model(lr, training=True), tf.float32)
            # L1 (or L2) over the global batch: each replica divides its sum by the global batch size, and
            # the optimizer sums the replicas' gradients.
            err = tf.abs(sr - hr) if self.loss == "l1" else tf.square(sr - hr)
            per_image = tf.reduce_mean(err, axis=[1, 2, 3])
            loss = tf.reduce_sum(per_image) / float(self.batch)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    def _single_step_fn(self, lr: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
        loss = self._replica_step_fn(lr, hr)
        self.step.assign_add(1)
        return loss

    def _train_step_fn(self, lr: tf.Tensor, hr: tf.Tensor) -> tf.Tensor:
        per_replica = self.strategy.run(self._replica_step, args=(lr, hr))
        loss = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        self.step.assign_add(1)
        return loss

    def init_from_data(self, lr_batch: tf.Tensor) -> None:
        """The data-dependent part of the init, before the first step: `lsuv` rescales the convs to the
        batch (builder.lsuv_rescale); other inits have none."""
        if self.init == "lsuv":
            from falsr_cli.models.builder import lsuv_rescale

            lsuv_rescale(self.model, lr_batch)

    def flops_per_step(self) -> float:
        """Floating-point operations of one step, approximately: forward + backward ≈ 3 × forward, and a
        mult-add is 2 FLOPs."""
        macs = mult_adds(self.arch, lr_hw=(self.lr_patch, self.lr_patch))
        return 3.0 * 2.0 * macs * self.batch

