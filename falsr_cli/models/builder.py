"""Architecture → Keras model (LR luma in, HR luma out), and the FALSR graph interface around it.

The network, as the published FALSR graphs:

- FE: 3×3 conv 1 → `features` (32), bias, ReLU.
- Cell t reads the concatenation (channel axis, ascending sources, FE first) of its sources.
  `conv`/`group2`/`group4`: B k×k convs + ReLU (grouped convs for group cells, the first included);
  with skip and B > 1 the output is last + first conv output. `invbot`: a 1×1 linear "supple" conv to F,
  then B blocks of k×k conv F→2F + ReLU, 3×3 depthwise + ReLU, k×k conv 2F→F linear, plus the block input;
  with skip and B > 1 the output is last block + supple. Every conv has a bias; SAME padding, stride 1.
- The wide space's cells (space/cells.py): `bsconv` B × (1×1 linear conv to F, k×k depthwise + ReLU);
  `pa` and `esa` the conv cell's convs, then a sigmoid gate (`cellT_pa`, or `cellT_esa_reduce` → `_esa_dw`
  (7×7, dilation 3, ReLU) + reduce → `_esa_expand`) multiplied in (`cellT_pa_mul`/`_esa_mul`), then the skip.
- Upsampler: concatenation of its sources → 3×3 conv to `features` + ReLU → + FE (global residual).
  ×2 (exactly FALSR's): depth-to-space ×2 (TF channel order) → 3×3 conv features/4 → 1, linear.
  ×3, ×4 (our extension; the paper is ×2 only): after the residual a 3×3 linear conv features →
  (features/4)·s² ("up_expand"), depth-to-space ×s, then the same 3×3 conv features/4 → 1 at HR size.

Image-level residual (`arch.residual`, our extension): `up_bicubic` upscales the LR input by MATLAB's
bicubic (symmetric padding as slices and a concat, one fixed conv to s² phases, depth-to-space — plain tensor
ops that every export format and runtime runs) and `up_image_residual` adds it to `up_out`.

Layer names (`fe`, `cell3_conv2`, `cell2_supple`, `cell2_b1_expand`/`_dw`/`_project`, `up_conv`,
`up_expand`, `up_out`; cells and blocks counted from 1) let weights be mapped from the published graphs.

Grouped convolutions use `GroupConv2D`, a Conv2D (same kernel layout as `Conv2D(groups=g)`) that computes
split → conv per group → concat as the published graphs do: Keras runs native grouped convs on CPU only
through XLA, which recompiles for every image size and does not export cleanly.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from falsr_cli.data.imresize import contributions
from falsr_cli.space.architecture import Architecture
from falsr_cli.space.cells import ESA_DILATION, ESA_KERNEL, ESA_REDUCTION, Cell

# ---- custom layers (registered so that saved models load back) ----------------------------------


@keras.saving.register_keras_serializable(package="falsr")
class DepthToSpace(keras.layers.Layer):
    """`tf.nn.depth_to_space` (pixel shuffle) with TF's channel order, as the FALSR graphs."""

    def __init__(self, block_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block_size = int(block_size)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block_size)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.block_size
        return (n, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package="falsr")
class GroupConv2D(keras.layers.Conv2D):
    """Grouped Conv2D computed as split → conv per group → concat (no XLA needed on CPU)."""

    def convolution_op(self, inputs, kernel):
        g = self.groups
        if g == 1:
            return super().convolution_op(inputs, kernel)
        xs = tf.split(inputs, g, axis=-1)
        ks = tf.split(kernel, g, axis=-1)
        pad = self.padding.upper()
        return tf.concat(
            [tf.nn.conv2d(x, k, strides=1, padding=pad) for x, k in zip(xs, ks, strict=True)], axis=-1
        )


# Fixed 3×3 edge filters of ECBSR's edge-oriented block: Sobel-x, Sobel-y, Laplacian (mask, row, column).
EDGE_MASKS = np.array([[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                       [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
                       [[0, 1, 0], [1, -4, 1], [0, 1, 0]]], dtype=np.float32)
REPARAM_EXPAND = 2  # the expand-squeeze branch's width, in multiples of the conv's filters


class RepConv2D(keras.layers.Conv2D):
    """A 3×3 conv trained as ECBSR's edge-oriented block (Zhang et al., ACM MM 2021), without its identity.

    Besides the 3×3 kernel it learns a 1×1 → 3×3 expand-squeeze branch and three 1×1 convs seen through
    the fixed Sobel-x, Sobel-y and Laplacian masks, each with a per-channel scale. Every branch is linear
    and bias-free, so their sum is one 3×3 kernel (`merged_kernel`): the forward runs that one kernel — a
    plain conv's cost, and the same function and gradients as running the branches — and `fold_reparam`
    writes it into a plain Conv2D for inference. The squeeze and the scales start at zero, so at step 0
    the network is exactly the plain one with the same seed.
    """

    def __init__(self, *args: Any, branch_initializer: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch_initializer = keras.initializers.get(branch_initializer or "he_normal")

    def build(self, input_shape) -> None:
        super().build(input_shape)
        cin, cout = int(input_shape[-1]), self.filters
        self.expand = self.add_weight(name="expand", shape=(cin, REPARAM_EXPAND * cout),
                                      initializer=self.branch_initializer)
        self.squeeze = self.add_weight(name="squeeze", shape=(3, 3, REPARAM_EXPAND * cout, cout),
                                       initializer="zeros")
        self.edge_in = self.add_weight(name="edge_in", shape=(len(EDGE_MASKS), cin, cout),
                                       initializer=self.branch_initializer)
        self.edge_scale = self.add_weight(name="edge_scale", shape=(len(EDGE_MASKS), cout),
                                          initializer="zeros")

    def merged_kernel(self, kernel):
        masks = tf.cast(EDGE_MASKS, kernel.dtype)
        expand = tf.cast(self.expand, kernel.dtype)
        squeeze = tf.cast(self.squeeze, kernel.dtype)
        edge = tf.cast(self.edge_in, kernel.dtype) * tf.cast(self.edge_scale, kernel.dtype)[:, None, :]
        return (kernel + tf.einsum("im,hwmo->hwio", expand, squeeze)
                + tf.einsum("ehw,eio->hwio", masks, edge))

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.merged_kernel(kernel))


def fold_reparam(model: keras.Model, arch: Architecture) -> keras.Model:
    """The plain float32 network of a model built with `reparam=True`: each RepConv2D's branches merged
    into its 3×3 kernel (exact: the forward already runs the merged kernel), every other weight copied."""
    plain = build_luma_model(arch, name=model.name)
    for layer in plain.layers:
        if not layer.weights:
            continue
        source = model.get_layer(layer.name)
        if isinstance(source, RepConv2D):
            kernel = source.merged_kernel(tf.convert_to_tensor(source.kernel.value, tf.float32))
            layer.set_weights([np.asarray(kernel), np.asarray(source.bias.value, np.float32)])
        else:
            layer.set_weights([np.asarray(w, np.float32) for w in source.get_weights()])
    return plain


@keras.saving.register_keras_serializable(package="falsr")
class YPbPrToRGB(keras.layers.Layer):
    """The graphs' fixed colour stage: Y (…,1) and PbPr (…,2) → RGB in [0,1] (1×1 conv, clamp, /255)."""

    def call(self, inputs):
        y, pbpr = inputs
        x = tf.concat([255.0 * y, 255.0 * (pbpr + 0.5)], axis=-1)
        # Rows: Y', Pb', Pr'; columns: R, G, B.  RGB = Y' + M·(C' − 128).
        m = tf.constant([[1.0, 1.0, 1.0], [0.0, -0.34414, 1.772], [1.402, -0.71414, 0.0]], dtype=x.dtype)
        b = tf.constant([-128.0 * 1.402, 128.0 * (0.34414 + 0.71414), -128.0 * 1.772], dtype=x.dtype)
        rgb = tf.nn.bias_add(tf.nn.conv2d(x, m[None, None], strides=1, padding="SAME"), b)
        return tf.minimum(tf.maximum(rgb, 0.0), 255.0) / 255.0

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[1][:-1], 3)


def bicubic_phase_kernel(scale: int) -> np.ndarray:
    """The (k, k, 1, s²) conv kernel whose depth-to-space is MATLAB's bicubic ×s (before padding by k//2).

    Read off `imresize.contributions` at an interior output pixel, so it is the scoring protocol's bicubic.
    Output phase (py, px) is channel py·s + px, TF's depth-to-space order.
    """
    s, base = int(scale), 8
    weights, idx = contributions(2 * base, 2 * base * s, float(s))
    taps: list[dict[int, float]] = []
    for p in range(s):
        row = base * s + p
        taps.append({int(i) - base: float(w) for i, w in zip(idx[row], weights[row], strict=True) if w != 0})
    radius = max(abs(o) for t in taps for o in t)
    k1 = np.zeros((s, 2 * radius + 1))
    for p, t in enumerate(taps):
        for o, w in t.items():
            k1[p, o + radius] += w
    kernel = np.einsum("ay,bx->yxab", k1, k1).reshape(2 * radius + 1, 2 * radius + 1, 1, s * s)
    return kernel.astype(np.float32)


def symmetric_pad(x, r: int, axis: int):
    """`tf.pad(mode="SYMMETRIC")` by `r` on both sides of one axis, written as slices and a concat.

    The same values; but MirrorPad's SYMMETRIC mode has no ONNX counterpart, and tf2onnx's emulation of it
    passes a boolean tensor that OpenCV 4's ONNX importer refuses ("Unsupported data type: BOOL").
    """
    if r == 0:
        return x

    def edge(i: int):  # the one-pixel slice at index i (negative: from the end) along `axis`
        index = [slice(None)] * 4
        index[axis] = slice(i, i + 1 or None)
        return x[tuple(index)]

    before = [edge(i) for i in range(r - 1, -1, -1)]
    after = [edge(-1 - i) for i in range(r)]
    return tf.concat([*before, x, *after], axis=axis)


@keras.saving.register_keras_serializable(package="falsr")
class BicubicUpsample(keras.layers.Layer):
    """MATLAB-compatible bicubic ×s of a 1-channel image in float32: symmetric pad, Conv2D, DepthToSpace."""

    def __init__(self, scale: int, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = int(scale)
        self._kernel = bicubic_phase_kernel(self.scale)

    def call(self, x):
        r = self._kernel.shape[0] // 2
        x = tf.cast(x, tf.float32)
        x = symmetric_pad(symmetric_pad(x, r, axis=1), r, axis=2)
        x = tf.nn.conv2d(x, tf.constant(self._kernel), strides=1, padding="VALID")
        return tf.nn.depth_to_space(x, self.scale)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


# ---- the builder -----------------------------------------------------------------------------------


INITS = ("normal", "he", "he-zero", "lsuv")
# `he`: variance of the output conv's kernel relative to He's. Small, but after a deep un-normalised stack
# a FALSR-B-res still starts 6.5 dB below bicubic; `he-zero` (the default) starts a residual network's
# output conv at zero. FALSR-B-res on BSDS200-val (bfloat16, falsr's data order): 30.93 vs 30.26 dB after
# 100 steps, 31.73 vs 31.55 after 1000; plain FALSR-B, where zero was slower (30.56 vs 30.64 at 1000), keeps
# the small draw. `lsuv` builds as `he-zero`; `lsuv_rescale` then fits it to a batch of the data.
OUTPUT_INIT_SCALE = 1e-4
# Root mean square of every conv's output after `lsuv_rescale`.
LSUV_RMS = 0.5


class _Init:
    """Hands out kernel initialisers, a distinct seed per layer when seeded (Keras repeats a seed).

    `normal`: N(0, 0.02), the paper's. `he`: He-normal (variance 2 / fan-in), which keeps the signal alive
    through a deep stack of thin layers, with the output conv near zero (OUTPUT_INIT_SCALE). `he-zero`:
    the same, but a network with the image-level residual gets its output conv at exactly zero, so it
    starts at bicubic; every other layer gets the same weights as with `he`.
    """

    def __init__(self, seed: int | None, kind: str = "normal", residual: bool = False,
                 reparam: bool = False) -> None:
        if kind not in INITS:
            raise ValueError(f"init: {kind!r} is not one of {', '.join(INITS)}")
        self.seed = seed
        self.kind = kind
        self.residual = residual
        self.reparam = reparam
        self.count = 0
        self.branches = 0

    def branch(self) -> keras.initializers.Initializer:
        """He-normal for a RepConv2D branch, from a seed stream of its own: the plain layers' draws stay
        those of the same seed without re-parameterisation."""
        self.branches += 1
        seed = None if self.seed is None else self.seed * 100003 + 60000 + self.branches
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)

    def __call__(self, output: bool = False, depthwise: int = 0) -> keras.initializers.Initializer:
        """`depthwise`: a depthwise kernel's channels (Keras counts its fan-in as k²·channels, not k²)."""
        seed = None
        if self.seed is not None:
            self.count += 1
            seed = self.seed * 100003 + self.count
        if self.kind == "normal":
            return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)
        if self.kind in ("he-zero", "lsuv") and output and self.residual:
            # Its gradient is not zero (the features are not), so it leaves zero on the first step.
            return keras.initializers.Zeros()
        scale = (OUTPUT_INIT_SCALE if output else 2.0) * max(1, depthwise)
        return keras.initializers.VarianceScaling(scale, "fan_in", "untruncated_normal", seed=seed)


def lsuv_rescale(model: keras.Model, x: Any, rms: float = LSUV_RMS) -> None:
    """Scale each conv's kernel and bias, in order, so its output on `x` has root mean square `rms`.

    Layer-sequential unit-variance init (Mishkin & Matas, 2016), for ReLU and linear convs (sigmoid gates
    and the output conv keep theirs). He init keeps a plain stack's scale, but FALSR's dense concatenations
    and skip sums do not: at init up_conv's mean |activation| is 20× fe's in FALSR-B-res, 290× in band-6,
    and the first Adam steps on the zero output conv then kick the output far off and silence the body.
    300 brief steps (BSDS200-val): band-6 29.66 dB (bicubic 29.68), 31.44 rescaled.
    """
    for layer in model.layers:
        if (not isinstance(layer, keras.layers.Conv2D) or layer.name == "up_out"
                or layer.activation not in (keras.activations.relu, keras.activations.linear)):
            continue
        out = keras.Model(model.input, layer.output)(x, training=False)
        have = float(tf.sqrt(tf.reduce_mean(tf.square(tf.cast(out, tf.float32)))))
        if have > 0:
            for v in (layer.kernel, layer.bias):
                v.assign(v * (rms / have))


def _conv(init: _Init, filters: int, kernel: int, name: str, relu: bool = True, groups: int = 1,
          output: bool = False):
    kwargs: dict[str, Any] = {}
    if groups > 1:
        cls = GroupConv2D
    elif init.reparam and kernel == 3:
        cls, kwargs = RepConv2D, {"branch_initializer": init.branch()}
    else:
        cls = keras.layers.Conv2D
    return cls(
        filters,
        kernel,
        padding="same",
        groups=groups,
        activation="relu" if relu else None,
        kernel_initializer=init(output),
        bias_initializer="zeros",
        name=name,
        **kwargs,
    )


def _concat(xs: list, name: str):
    return xs[0] if len(xs) == 1 else keras.layers.Concatenate(axis=-1, name=name)(xs)


def _depthwise(init: _Init, kernel: int, channels: int, name: str, dilation: int = 1):
    return keras.layers.DepthwiseConv2D(kernel, padding="same", dilation_rate=dilation, activation="relu",
                                        depthwise_initializer=init(depthwise=channels),
                                        bias_initializer="zeros", name=name)


def _gate(h, cell: Cell, p: str, init: _Init):
    """`pa` and `esa`: h times a sigmoid gate computed from h. The gate's last conv starts at (or near)
    zero, so every gate starts at 0.5 everywhere instead of saturated by a random draw."""
    f = cell.filters
    if cell.type == "pa":
        g = keras.layers.Conv2D(f, 1, activation="sigmoid", kernel_initializer=init(output=True),
                                bias_initializer="zeros", name=f"{p}_pa")(h)
    else:
        r = _conv(init, f // ESA_REDUCTION, 1, f"{p}_esa_reduce", relu=False)(h)
        c = _depthwise(init, ESA_KERNEL, f // ESA_REDUCTION, f"{p}_esa_dw", ESA_DILATION)(r)
        c = keras.layers.Add(name=f"{p}_esa_add")([c, r])
        g = keras.layers.Conv2D(f, 1, activation="sigmoid", kernel_initializer=init(output=True),
                                bias_initializer="zeros", name=f"{p}_esa_expand")(c)
    return keras.layers.Multiply(name=f"{p}_{cell.type}_mul")([h, g])


def _cell(x, cell: Cell, t: int, init: _Init):
    p = f"cell{t}"
    f, k = cell.filters, cell.kernel
    if cell.type == "invbot":
        supple = _conv(init, f, 1, f"{p}_supple", relu=False)(x)
        h = supple
        for j in range(1, cell.blocks + 1):
            y = _conv(init, 2 * f, k, f"{p}_b{j}_expand")(h)
            y = _depthwise(init, 3, 2 * f, f"{p}_b{j}_dw")(y)
            y = _conv(init, f, k, f"{p}_b{j}_project", relu=False)(y)
            h = keras.layers.Add(name=f"{p}_b{j}_add")([y, h])
        if cell.skip and cell.blocks > 1:
            h = keras.layers.Add(name=f"{p}_skip")([supple, h])
        return h
    if cell.type == "bsconv":
        h, first = x, None
        for j in range(1, cell.blocks + 1):
            h = _conv(init, f, 1, f"{p}_pw{j}", relu=False)(h)
            h = _depthwise(init, k, f, f"{p}_dw{j}")(h)
            first = h if first is None else first
    else:
        first = h = _conv(init, f, k, f"{p}_conv1", groups=cell.groups)(x)
        for j in range(2, cell.blocks + 1):
            h = _conv(init, f, k, f"{p}_conv{j}", groups=cell.groups)(h)
    if cell.gated:
        h = _gate(h, cell, p, init)
    if cell.skip and cell.blocks > 1:
        h = keras.layers.Add(name=f"{p}_skip")([first, h])
    return h


def build_luma_model(
    arch: Architecture, name: str = "falsr", seed: int | None = None, input_hw: tuple[int, int] | None = None,
    init: str = "normal", reparam: bool = False,
) -> keras.Model:
    """The SR network of `arch`: (N,h,w,1) LR luma in [0,1] → (N,sh,sw,1) HR luma.

    Weights are N(0, 0.02) (`init="normal"`, the paper's) or He-normal (`"he"`, `"he-zero"`), seeded per
    layer when `seed` is given; biases 0. `input_hw` fixes the spatial input size (e.g. for export); by
    default any size is accepted. `reparam`: every ungrouped 3×3 conv is a RepConv2D (training only;
    `fold_reparam` gives the plain network).
    """
    init = _Init(seed, init, arch.residual, reparam)
    h, w = input_hw if input_hw else (None, None)
    inp = keras.Input((h, w, 1), name="y", dtype="float32")
    fe = _conv(init, arch.features, 3, "fe")(inp)
    nodes = [fe]
    for t in range(1, arch.n + 1):
        x = _concat([nodes[s] for s in arch.sources(t)], f"cell{t}_concat")
        nodes.append(_cell(x, arch.cells[t - 1], t, init))
    x = _concat([nodes[s] for s in arch.sources(arch.n + 1)], "up_concat")
    x = _conv(init, arch.features, 3, "up_conv")(x)
    x = keras.layers.Add(name="up_residual")([x, fe])
    s = arch.scale
    if s != 2:
        x = _conv(init, arch.hr_channels * s * s, 3, "up_expand", relu=False)(x)
    x = DepthToSpace(s, name="up_shuffle")(x)
    out = _conv(init, 1, 3, "up_out", relu=False, output=True)(x)
    if arch.residual:
        out = keras.layers.Add(name="up_image_residual")([out, BicubicUpsample(s, name="up_bicubic")(inp)])
    return keras.Model(inp, out, name=name)


def build_falsr_interface(luma_model: keras.Model, name: str = "falsr_rgb") -> keras.Model:
    """Wrap a luma model in the FALSR graph interface: (y (N,h,w,1), pbpr (N,sh,sw,2)) → RGB in [0,1]."""
    y = keras.Input((None, None, 1), name="y", dtype="float32")
    pbpr = keras.Input((None, None, 2), name="pbpr", dtype="float32")
    rgb = YPbPrToRGB(name="ypbpr_to_rgb")([luma_model(y), pbpr])
    return keras.Model([y, pbpr], rgb, name=name)
