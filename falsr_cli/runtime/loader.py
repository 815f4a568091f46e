"""One entry point from a model spec on the command line to an Upscaler."""

from __future__ import annotations

from pathlib import Path

from falsr_cli.errors import FalsrError
from falsr_cli.runtime.upscalers import (
    BicubicUpscaler,
    FrozenGraphUpscaler,
    LumaUpscaler,
    Upscaler,
    keras_luma_upscaler,
)

MODEL_SPEC_HELP = "'bicubic', a frozen graph (.pb), a .tflite file, or a training-run folder"


def load_model(spec: str, scale: int = 2) -> Upscaler:
    """Dispatch on what `spec` is: 'bicubic'; a `.pb`; a `.tflite`; a training run or a checkpoint in one."""
    spec = str(spec)
    if spec.lower() == "bicubic":
        return BicubicUpscaler(scale)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".pb", ".tflite") and not path.is_file():
        raise FalsrError(f"model file not found: {spec}")
    if suffix == ".pb":
        return _same_scale(_graph_upscaler(path), scale)
    if suffix == ".tflite":
        from falsr_cli.export.tflite_runtime import load_tflite_upscaler

        return _same_scale(load_tflite_upscaler(path), scale)
    if path.exists() or Path(f"{spec}.index").is_file():
        # A training run, or a checkpoint (file or TF prefix) in one: the run knows its architecture.
        from falsr_cli.train.runs import load_trained_model

        arch, model = load_trained_model(path)
        name = path.name if path.is_dir() else f"{path.parent.name}/{path.name}"
        return _same_scale(keras_luma_upscaler(model, scale=arch.scale, name=name), scale)
    raise FalsrError(f"unknown model {spec!r}: give {MODEL_SPEC_HELP}")


def _graph_upscaler(path: Path) -> Upscaler:
    """A .pb with the FALSR interface (published or exported), or an `--interface y` export (luma only)."""
    from falsr_cli.runtime.upscale import load_sr_model

    sr = load_sr_model(path)  # vetted, imported and pruned once; scale from the architecture or a probe
    if sr.interface is not None:
        return FrozenGraphUpscaler(sr.interface, scale=sr.scale)
    return LumaUpscaler(sr.luma, scale=sr.scale, name=sr.name)


def _same_scale(upscaler: Upscaler, scale: int) -> Upscaler:
    if upscaler.scale != scale:
        raise FalsrError(f"model {upscaler.name} upscales x{upscaler.scale}, but x{scale} was asked for")
    return upscaler
