"""Training data: luma images held in memory once, and a `tf.data` pipeline of random aligned patches.

Every batch is a pure function of (seed, step): image choice (uniform over images), crop position and the
flip/rotation are drawn with stateless random ops keyed by (seed, step). A run resumed at step k therefore
sees exactly the batches k, k+1, … that an uninterrupted run sees, with no generator state to save.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from falsr_cli.data import color
from falsr_cli.data.metrics import score
from falsr_cli.data.pairs import ImagePair, downscaled_pairs, load_pairs
from falsr_cli.errors import FalsrError
from falsr_cli.models.network import SRNet

if TYPE_CHECKING:
    import keras


@dataclass
class LumaSet:
    """Training images as full-range BT.601 luma (`rgb2ypbpr` Y) in [0,1], float32, HR exactly scale × LR."""

    names: list[str]
    lr: list[np.ndarray]
    hr: list[np.ndarray]
    scale: int
    _fingerprint: str | None = None
    _packed: tuple | None = None

    def __len__(self) -> int:
        return len(self.names)

    @property
    def min_lr_size(self) -> int:
        return min(min(a.shape) for a in self.lr)

    @property
    def pixels(self) -> int:
        return sum(a.size for a in self.hr)

    def packed(self) -> tuple:
        """All images in one flat tensor per resolution, plus offsets and LR sizes (made once, on the CPU).

        A crop is then a single gather with computed indices, for any mix of image sizes.
        """
        if self._packed is None:
            import tensorflow as tf

            lr_sizes = np.array([a.size for a in self.lr], dtype=np.int64)
            hr_sizes = np.array([a.size for a in self.hr], dtype=np.int64)
            with tf.device("/cpu:0"):
                self._packed = (
                    tf.constant(np.concatenate([a.ravel() for a in self.lr])),
                    tf.constant(np.concatenate([a.ravel() for a in self.hr])),
                    tf.constant(np.concatenate([[0], np.cumsum(lr_sizes)[:-1]]).astype(np.int64)),
                    tf.constant(np.concatenate([[0], np.cumsum(hr_sizes)[:-1]]).astype(np.int64)),
                    tf.constant(np.array([a.shape[0] for a in self.lr], dtype=np.int64)),
                    tf.constant(np.array([a.shape[1] for a in self.lr], dtype=np.int64)),
                )
        return self._packed

    def fingerprint(self) -> str:
        """A hash of names, shapes and pixels: recorded in config.json, compared when resuming."""
        if self._fingerprint is None:
            h = hashlib.blake2b(digest_size=8)
            for name, lr, hr in zip(self.names, self.lr, self.hr, strict=True):
                h.update(f"{name}:{lr.shape}:{hr.shape};".encode())
                h.update(np.ascontiguousarray(hr))
                h.update(np.ascontiguousarray(lr))
            self._fingerprint = h.hexdigest()
        return self._fingerprint


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB → Y of YPbPr in [0,1] as float32 (what the FALSR networks take and give)."""
    return color.rgb_to_ypbpr(rgb)[..., 0].astype(np.float32)


def split_spec(spec: str) -> list[str]:
    """`T91,BSDS200` → ['T91', 'BSDS200']; an existing path that contains a comma stays whole."""
    spec = str(spec).strip()
    if os.path.exists(spec):
        return [spec]
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise FalsrError("data: no training data given")
    return parts


def load_luma_set(spec: str, scale: int, data_dir: str | os.PathLike | None = None,
                  download: bool = True, downscales: Sequence[float] = ()) -> LumaSet:
    """Registered sets, folders of HR images (LR by MATLAB bicubic, cached on disk) or LR/HR pair folders;
    with `downscales`, each image also at those sizes (`downscaled_pairs`)."""
    out = LumaSet([], [], [], scale)
    parts = split_spec(spec)

    def add(to: LumaSet, p: ImagePair) -> None:
        to.names.append(f"{part}/{p.name}" if len(parts) > 1 else p.name)
        to.lr.append(np.ascontiguousarray(luma(p.lr)))
        to.hr.append(np.ascontiguousarray(luma(p.hr)))

    for part in parts:
        pairs = load_pairs(part, scale=scale, data_dir=data_dir, download=download)
        if not pairs:
            raise FalsrError(f"data: no images in {part}")
        # Converted one by one, dropping each RGB pair (and its smaller copies) as its luma is made: the
        # peak memory of a large set (DIV2K) stays near its float32 luma size instead of RGB plus luma.
        # The copies follow all of the part's originals.
        copies = LumaSet([], [], [], scale)
        pairs.reverse()
        while pairs:
            p = pairs.pop()
            add(out, p)
            for c in downscaled_pairs([p], downscales, scale):
                add(copies, c)
        out.names += copies.names
        out.lr += copies.lr
        out.hr += copies.hr
    return out


def fitting_images(images: LumaSet, patch: int) -> tuple[LumaSet, list[str]]:
    """The images a patch fits in (HR `patch`, LR patch/scale), and the names of those left out.

    A patch larger than a few small images (T91 has one of 78×78) should not stop a run: those images are
    left out and named. A patch larger than every image is an error that says what would fit.
    """
    lr_patch = patch // images.scale
    keep = [i for i, a in enumerate(images.lr) if min(a.shape) >= lr_patch]
    if not keep:
        s = images.scale
        raise FalsrError(
            f"patch: {patch} is larger than every training image (the largest fits "
            f"{max(min(a.shape) for a in images.lr) * s} px); use a smaller --patch"
        )
    if len(keep) == len(images):
        return images, []
    dropped = [images.names[i] for i in range(len(images)) if i not in set(keep)]
    return LumaSet([images.names[i] for i in keep], [images.lr[i] for i in keep],
                   [images.hr[i] for i in keep], images.scale), dropped


def patch_note(dropped: list[str], total: int, patch: int) -> str | None:
    """The note said when images are left out for being smaller than the patch."""
    if not dropped:
        return None
    shown = ", ".join(dropped[:3]) + (", …" if len(dropped) > 3 else "")
    return (f"{len(dropped)} of {total} training images are smaller than the {patch}-px patch and are left "
            f"out ({shown})")


class PatchSampler:
    """Random aligned LR/HR patches, flips and 90° rotations, a batch per step, keyed by (seed, step)."""

    def __init__(self, images: LumaSet, *, batch: int, patch: int, seed: int, augment: bool = True) -> None:
        self.total = len(images)
        images, self.dropped = fitting_images(images, patch)
        self.images = images
        self.batch = int(batch)
        self.patch = int(patch)
        self.lr_patch = self.patch // images.scale
        self.scale = images.scale
        self.seed = int(seed)
        self.augment = bool(augment)
        self._lr_flat, self._hr_flat, self._lr_off, self._hr_off, self._lr_h, self._lr_w = images.packed()

    def batch_at(self, step: Any):
        """(LR (B, p/s, p/s, 1), HR (B, p, p, 1)) float32 of update `step` (0-based), pure in (seed, step)."""
        import tensorflow as tf

        b, pl, s = self.batch, self.lr_patch, self.scale
        step = tf.cast(step, tf.int64)
        u = tf.random.stateless_uniform([b, 4], seed=tf.stack([tf.constant(self.seed, tf.int64), step]),
                                        dtype=tf.float64)
        n = tf.cast(tf.shape(self._lr_off, out_type=tf.int64)[0], tf.float64)
        idx = tf.minimum(tf.cast(u[:, 0] * n, tf.int64), tf.cast(n, tf.int64) - 1)
        h = tf.gather(self._lr_h, idx)
        w = tf.gather(self._lr_w, idx)
        y = tf.cast(u[:, 1] * tf.cast(h - pl + 1, tf.float64), tf.int64)
        x = tf.cast(u[:, 2] * tf.cast(w - pl + 1, tf.float64), tf.int64)

        def crop(flat, off, width, y0, x0, size):
            r = tf.range(size, dtype=tf.int64)
            rows = (y0[:, None, None] + r[None, :, None]) * width[:, None, None]
            cols = x0[:, None, None] + r[None, None, :]
            return tf.gather(flat, off[:, None, None] + rows + cols)[..., None]

        lr = crop(self._lr_flat, tf.gather(self._lr_off, idx), w, y, x, pl)
        hr = crop(self._hr_flat, tf.gather(self._hr_off, idx), w * s, y * s, x * s, pl * s)
        if self.augment:
            # Eight dihedral variants: bit 0 flips left-right, bit 1 up-down, bit 2 transposes (with the
            # flips this gives the 90° rotations). LR and HR get the same one.
            code = tf.cast(u[:, 3] * 8.0, tf.int64)
            lr, hr = _dihedral(lr, code), _dihedral(hr, code)
        return lr, hr

    def dataset(self, start: int, stop: int):
        """Batches for updates start … stop−1, mapped in parallel, in order, prefetched."""
        import tensorflow as tf

        ds = tf.data.Dataset.range(int(start), int(stop))
        # No autograph: batch_at has no tensor-dependent Python control flow, and converting costs seconds.
        fn = tf.autograph.experimental.do_not_convert(self.batch_at)
        ds = ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)


def _dihedral(x, code):
    import tensorflow as tf

    def where(bit, transformed, original):
        mask = tf.reshape(tf.bitwise.bitwise_and(code, bit) > 0, [-1, 1, 1, 1])
        return tf.where(mask, transformed, original)

    x = where(1, tf.reverse(x, axis=[2]), x)
    x = where(2, tf.reverse(x, axis=[1]), x)
    return where(4, tf.transpose(x, [0, 2, 1, 3]), x)


# ---- validation images ------------------------------------------------------------------------------


@dataclass
class ValidationSet:
    """LR/HR uint8 RGB pairs scored by the paper's protocol (full images, luma, border = scale)."""

    name: str
    names: list[str]
    lr: list[np.ndarray]
    hr: list[np.ndarray]
    scale: int

    def __len__(self) -> int:
        return len(self.names)


def load_validation_set(spec: str, scale: int, data_dir: str | os.PathLike | None = None,
                        download: bool = True) -> ValidationSet:
    pairs = load_pairs(spec, scale=scale, data_dir=data_dir, download=download)
    if not pairs:
        raise FalsrError(f"val: no images in {spec}")
    return ValidationSet(str(spec), [p.name for p in pairs], [p.lr for p in pairs], [p.hr for p in pairs],
                         scale)


def validate_model(model: keras.Model | None, val: ValidationSet, keep_images: int = 0,
                   upscaler: SRNet | None = None) -> tuple[float, float, list[tuple[str, np.ndarray]]]:
    """Mean (PSNR, SSIM) of `model` on `val` and the first `keep_images` SR images (uint8 RGB).

    Colour and scoring go through the same code as `falsr evaluate` (runtime.upscalers + data.metrics).
    Pass `upscaler` (from `make_upscaler`) to reuse one traced prediction function across validations.
    """
    if upscaler is None and model is None:
        raise ValueError("validate_model needs a model or an upscaler")
    up = upscaler or make_upscaler(model, val.scale)
    psnrs, ssims, kept = [], [], []
    for i, (name, lr, hr) in enumerate(zip(val.names, val.lr, val.hr, strict=True)):
        sr = up.upscale(lr)
        p, s = score(sr, hr, val.scale)
        psnrs.append(p)
        ssims.append(s)
        if i < keep_images:
            kept.append((name, sr))
    return float(np.mean(psnrs)), float(np.mean(ssims)), kept


def bicubic_psnr(val: ValidationSet) -> float:
    """Mean PSNR of MATLAB-compatible bicubic on `val`: what a -res network scores at its zero init."""
    return validate_model(None, val, upscaler=SRNet.bicubic(val.scale))[0]


def make_upscaler(model: keras.Model, scale: int, engine: str = "tf") -> SRNet:
    """The evaluation path's SRNet over `model`: TensorFlow (one trace for every image size) or XNNPACK
    (converted once; see models/engine.py)."""
    return SRNet.from_keras(model, name=getattr(model, "name", "model"), scale=scale, engine=engine,
                            cache=False)
