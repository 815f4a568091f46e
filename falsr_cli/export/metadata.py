"""What an exported file expects and returns, written into the file itself (ONNX `metadata_props`, a TFLite
metadata entry, a SavedModel asset): scale, value range, colour convention, layout, tensor names, and the
architecture. A deployer who guesses any of these wrong is off by 7–255 grey levels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from falsr_cli import __version__

COLOR = (
    "full-range YPbPr (ITU-R BT.601 matrix, as skimage.color.rgb2ypbpr): Y = (0.299 R + 0.587 G + 0.114 B)"
    " / 255; Pb = (-0.168736 R - 0.331264 G + 0.5 B) / 255, Pr = (0.5 R - 0.418688 G - 0.081312 B) / 255 of"
    " the LR image upscaled by bicubic (PIL) to the output size; not studio-range YCbCr, not BGR"
)
RGB_STAGE = (
    "R = Y' + 1.402 (Pr' - 128), G = Y' - 0.34414 (Pb' - 128) - 0.71414 (Pr' - 128), B = Y' + 1.772 "
    "(Pb' - 128) with Y' = 255 Y, C' = 255 (C + 0.5), clamped to [0, 255], divided by 255; as uint8: "
    "x 255, clip, truncate (the published script)"
)


def describe(interface: str, scale: int, inputs: Sequence[str], outputs: Sequence[str], *,
             input_size: tuple[int, int] | None = None, architecture: str = "", target: str = "",
             quantize: str = "none", source_sha256: str = "") -> dict[str, str]:
    """The description of one export as flat string pairs (ONNX metadata takes strings only)."""
    s = int(scale)
    h, w = (str(d) for d in input_size) if input_size else ("h", "w")
    n = "1" if input_size else "N"
    sh, sw = (str(int(d) * s) for d in input_size) if input_size else (f"{s}h", f"{s}w")
    y_in = f"{inputs[0]}: {n}x{h}x{w}x1 float32, LR luma Y in [0, 1]"
    if interface == "falsr":
        ins = [y_in, f"{inputs[1]}: {n}x{sh}x{sw}x2 float32, Pb and Pr in [-0.5, 0.5] at the output size"]
        out = f"{outputs[0]}: {n}x{sh}x{sw}x3 float32, RGB in [0, 1] ({RGB_STAGE})"
        value_range = "Y and RGB in [0, 1], Pb/Pr in [-0.5, 0.5]"
    else:
        ins = [y_in]
        out = f"{outputs[0]}: {n}x{sh}x{sw}x1 float32, HR luma Y in [0, 1] (not clamped)"
        value_range = "Y in [0, 1]"
    description = {
        "producer": f"falsr {__version__}",
        "task": f"super-resolution x{s}",
        "scale": str(s),
        "interface": interface,
        "layout": "NHWC (batch, height, width, channels)",
        "input_size": f"{h}x{w}" if input_size else "any (batch, height and width dynamic)",
        "value_range": value_range,
        "color": COLOR,
        "inputs": "; ".join(ins),
        "outputs": out,
        "quantize": quantize,
    }
    if target:
        description["target"] = target
    if architecture:
        description["architecture"] = architecture
    if source_sha256:  # of the file it came from: a .pb's float32 `y` export stands in for its conversion
        description["source_sha256"] = source_sha256
    return description


def to_json(description: dict[str, str]) -> bytes:
    """The description as the UTF-8 JSON stored in TFLite and SavedModel files."""
    return json.dumps(description, indent=1, ensure_ascii=False).encode("utf-8")
