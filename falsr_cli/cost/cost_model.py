"""Exact cost of an architecture from its description alone: parameters, mult-adds, receptive field.

Pure arithmetic over the layers that `falsr_cli.models.builder` builds (no TensorFlow), so the search can
call it for every candidate. Conventions (the paper's): mult-adds are counted for an LR input of H×W;
every conv runs at LR size except the last one, at HR size (sH×sW); grouped convs count k²·(Cin/g)·Cout
per pixel and depthwise convs k²·C; a gate's element-wise product (wide space: `pa`, `esa`) counts one
per element; bias adds, ReLUs, sigmoids, element-wise adds and concatenations are not counted.
Parameters are the weights and biases of the SR network (not the fixed colour conversion).
The image-level residual (`arch.residual`) is a fixed 5×5 conv from 1 to s² channels at LR size (MATLAB
bicubic's 4 taps per phase, centred): its mult-adds count, it has no trainable parameters.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from falsr_cli.space.architecture import Architecture
from falsr_cli.space.cells import ESA_DILATION, ESA_KERNEL, ESA_REDUCTION, Cell

# Side of the residual's fixed bicubic phase kernel (builder.bicubic_phase_kernel) for ×2, ×3 and ×4.
BICUBIC_KERNEL = 5


class ConvSpec(NamedTuple):
    """One convolution: kernel size, channels in/out, groups (= cin for depthwise), and if at HR size."""

    name: str
    kernel: int
    cin: int
    cout: int
    groups: int = 1
    hr: bool = False

    @property
    def weights(self) -> int:
        return self.kernel * self.kernel * (self.cin // self.groups) * self.cout

    @property
    def params(self) -> int:
        return self.weights + self.cout


def _gate_convs(cell: Cell, p: str) -> list[ConvSpec]:
    f = cell.filters
    if cell.type == "pa":
        return [ConvSpec(f"{p}_pa", 1, f, f)]
    if cell.type == "esa":
        r = f // ESA_REDUCTION
        return [ConvSpec(f"{p}_esa_reduce", 1, f, r), ConvSpec(f"{p}_esa_dw", ESA_KERNEL, r, r, groups=r),
                ConvSpec(f"{p}_esa_expand", 1, r, f)]
    return []


def _cell_convs(cell: Cell, cin: int, t: int) -> list[ConvSpec]:
    f, k, p = cell.filters, cell.kernel, f"cell{t}"
    if cell.type == "bsconv":
        convs = []
        for j in range(1, cell.blocks + 1):
            convs += [ConvSpec(f"{p}_pw{j}", 1, cin if j == 1 else f, f),
                      ConvSpec(f"{p}_dw{j}", k, f, f, groups=f)]
        return convs
    if cell.type == "invbot":
        convs = [ConvSpec(f"{p}_supple", 1, cin, f)]
        for j in range(1, cell.blocks + 1):
            convs += [
                ConvSpec(f"{p}_b{j}_expand", k, f, 2 * f),
                ConvSpec(f"{p}_b{j}_dw", 3, 2 * f, 2 * f, groups=2 * f),
                ConvSpec(f"{p}_b{j}_project", k, 2 * f, f),
            ]
        return convs
    g = cell.groups
    return [ConvSpec(f"{p}_conv1", k, cin, f, g)] + [
        ConvSpec(f"{p}_conv{j}", k, f, f, g) for j in range(2, cell.blocks + 1)
    ] + _gate_convs(cell, p)


def conv_specs(arch: Architecture) -> list[ConvSpec]:
    """Every convolution of the built network, in build order (names as the builder's layers)."""
    convs = [ConvSpec("fe", 3, 1, arch.features)]
    for t in range(1, arch.n + 1):
        convs += _cell_convs(arch.cells[t - 1], arch.in_channels(t), t)
    convs.append(ConvSpec("up_conv", 3, arch.in_channels(arch.n + 1), arch.features))
    if arch.scale != 2:
        convs.append(ConvSpec("up_expand", 3, arch.features, arch.hr_channels * arch.scale**2))
    convs.append(ConvSpec("up_out", 3, arch.hr_channels, 1, hr=True))
    return convs


def gate_products(arch: Architecture) -> int:
    """Element-wise products per LR pixel of the gated cells (`pa`, `esa`): the output times its gate."""
    return sum(c.filters for c in arch.cells if c.gated)


@lru_cache(maxsize=1 << 16)
def _totals(arch: Architecture) -> tuple[int, int, int]:
    """(weights of LR-size convs and gate products, weights of HR-size convs, params), cached: the search
    asks repeatedly."""
    specs = conv_specs(arch)
    return (
        sum(c.weights for c in specs if not c.hr) + gate_products(arch),
        sum(c.weights for c in specs if c.hr),
        sum(c.params for c in specs),
    )


def params(arch: Architecture) -> int:
    """Trainable weights and biases of the SR network."""
    return _totals(arch)[2]


def mult_adds(arch: Architecture, lr_hw: tuple[int, int] = (480, 480)) -> int:
    """Multiply-accumulates for one LR input of `lr_hw` (default 480×480, the paper's convention)."""
    # Every weight is one multiply-accumulate per output pixel of its conv.
    lr_weights, hr_weights, _ = _totals(arch)
    lr = lr_hw[0] * lr_hw[1]
    bicubic = BICUBIC_KERNEL * BICUBIC_KERNEL * arch.scale * arch.scale if arch.residual else 0
    return lr * (lr_weights + bicubic) + lr * arch.scale * arch.scale * hr_weights


def _cell_radius(cell: Cell) -> int:
    r = (cell.kernel - 1) // 2
    if cell.type == "invbot":
        # Per block: k×k expand, 3×3 depthwise, k×k project; the supple 1×1 adds nothing.
        return cell.blocks * (2 * r + 1)
    # `esa`'s gate reads a dilated depthwise window around each pixel; `pa`'s gate is 1×1.
    gate = (ESA_KERNEL - 1) // 2 * ESA_DILATION if cell.type == "esa" else 0
    # The skip add only joins a shorter path, so the last conv's reach is the cell's.
    return cell.blocks * r + gate


def receptive_field(arch: Architecture) -> int:
    """Radius, in LR pixels, of the input region that can change one output pixel's LR cell.

    An LR pixel at distance > radius from the LR pixel under an HR output pixel never affects it. The last
    3×3 conv at HR size reaches one HR pixel beyond its block, i.e. into the neighbouring LR pixel.
    """
    reach = [1]  # FE: 3×3
    for t in range(1, arch.n + 1):
        reach.append(max(reach[s] for s in arch.sources(t)) + _cell_radius(arch.cells[t - 1]))
    r = max(max(reach[s] for s in arch.sources(arch.n + 1)) + 1, reach[0])  # up_conv, then + FE
    if arch.scale != 2:
        r += 1  # up_expand 3×3
    return r + 1


def activation_floats(arch: Architecture, lr_hw: tuple[int, int]) -> int:
    """Floats of every conv output of one forward pass on an LR input of `lr_hw` (HR-size convs at s²)."""
    lr = lr_hw[0] * lr_hw[1]
    per_pixel = sum(c.cout * (arch.scale**2 if c.hr else 1) for c in conv_specs(arch))
    # The input, the shuffled features and the output at HR size are small next to the convs: counted once.
    return lr * (per_pixel + 1 + arch.hr_channels * arch.scale**2 + arch.scale**2)


def _cell_peak(cell: Cell) -> int:
    """Channels a cell holds at once besides its input: a conv's input and output, plus what its skip
    add still needs."""
    f = cell.filters
    skip = f if cell.skip else 0
    if cell.type == "invbot":
        # supple 1×1 (→ f), then per block expand (f → 2f), depthwise (2f → 2f), project (2f → f).
        return max(3 * f + skip, 4 * f + skip)
    if cell.type == "pa":  # the output, its gate and their product
        return 3 * f + skip
    if cell.type == "esa":  # the output, the reduced map and its context, the gate and the product
        return 3 * f + 2 * (f // ESA_REDUCTION) + skip
    return 2 * f + skip


def live_floats(arch: Architecture) -> int:
    """Peak floats per LR pixel alive at once in one forward pass, executed in build order: the outputs
    still needed by later nodes, the concatenated input of the running node and the tensors inside it
    (HR-size tensors count s² per LR pixel). A runtime that frees each tensor after its last use needs
    about this much working memory (TensorFlow takes more: working_floats)."""
    n = arch.n
    last = {s: max(t for t in range(1, n + 2) if s in arch.sources(t)) for s in range(n + 1)}
    peak = 0
    for t in range(1, n + 2):
        held = sum(arch.channels(s) for s in range(t) if last[s] >= t)
        cin = arch.in_channels(t)
        if t <= n:
            inside = _cell_peak(arch.cells[t - 1])
        else:  # upsampler: conv to features, (expand,) depth-to-space, the HR conv to one channel
            inside = arch.features + 2 * arch.hr_channels * arch.scale**2 + arch.scale**2
        peak = max(peak, held + cin + inside)
    return peak


# TensorFlow's peak working memory per LR pixel (VmHWM growth over a 310×310 tile of the exported graphs,
# AMD EPYC Zen 5, tensorflow-cpu 2.21), in floats: FALSR-A 1300, B 635, C 640. That is 1.26 / 1.73 / 1.52×
# live_floats and 0.77 / 0.39 / 0.38× activation_floats: the smaller of the two bounds below covers all three.
TF_LIVE_FACTOR = 1.75
TF_ACTIVATION_SHARE = 0.8


def working_floats(arch: Architecture) -> int:
    """Floats per LR pixel TensorFlow needs to run the network on a tile (an upper estimate, see above)."""
    live, every = live_floats(arch), activation_floats(arch, (1, 1))
    return math.ceil(min(TF_LIVE_FACTOR * live, TF_ACTIVATION_SHARE * every))


def training_bytes(arch: Architecture, batch: int, lr_patch: int) -> int:
    """A lower estimate of the memory one float32 training step holds: activations kept for the backward
    pass, their gradients and the ReLU masks (≈ 3 floats per activation), plus weights, gradients and
    Adam's two moments (4 floats per parameter)."""
    return 4 * (3 * batch * activation_floats(arch, (lr_patch, lr_patch)) + 4 * params(arch))
