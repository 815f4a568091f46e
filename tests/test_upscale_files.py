"""`falsr upscale`: photo kinds, colour as the FALSR models, file handling and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from export_models import shared_tiny, shared_tiny_sr
from PIL import Image

from falsr_cli.errors import FalsrError
from falsr_cli.runtime.photo_io import Photo, read_photo, write_photo
from falsr_cli.runtime.upscale import upscale_files, upscale_photo


@pytest.fixture
def tiny_sr():
    return shared_tiny_sr()


def _rgb(h: int = 30, w: int = 26, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: natural enough that chroma and luma both matter.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy * 255 / h, xx * 255 / w, (yy + xx) * 127 / (h + w)], -1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def test_rgb_photo_is_what_evaluate_computes(tiny_sr, tmp_path: Path) -> None:
    """8-bit colour: luma through the network, chroma bicubic — identical to the evaluation upscaler."""
    from falsr_cli.models.network import SRNet

    rgb = _rgb()
    Image.fromarray(rgb).save(tmp_path / "p.png")
    result = upscale_files([tmp_path / "p.png"], tiny_sr, tmp_path / "out", tile=8, progress=False)
    assert result["written"] == [str(tmp_path / "out" / "p_x2.png")] and not result["failed"]
    got = np.asarray(Image.open(tmp_path / "out" / "p_x2.png"))
    expected = SRNet.from_keras(shared_tiny()[1], scale=2).upscale(rgb)
    assert got.shape == (60, 52, 3)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_bicubic_is_the_same_pixels_in_upscale_and_evaluate(tmp_path: Path) -> None:
    """`bicubic` is MATLAB-compatible bicubic everywhere (the scoring protocol's), tiled or not."""
    from falsr_cli.data.imresize import imresize
    from falsr_cli.runtime.open import open_model

    rgb = _rgb(h=41, w=37, seed=4)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    evaluated = open_model("bicubic", scale=2).upscale(rgb)
    np.testing.assert_array_equal(evaluated, imresize(rgb, 2))
    for tile in (0, 16):
        out = tmp_path / f"out{tile}"
        upscale_files([tmp_path / "p.png"], open_model("bicubic"), out, tile=tile, progress=False)
        np.testing.assert_array_equal(np.asarray(Image.open(out / "p_x2.png")), evaluated)


def test_grey_rgba_16bit_and_exif(tiny_sr, tmp_path: Path) -> None:
    rgb = _rgb(seed=1)
    grey = rgb[..., 0]
    alpha = np.linspace(0, 255, rgb.shape[1]).astype(np.uint8)[None].repeat(rgb.shape[0], 0)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "a.png")
    wide = rgb.astype(np.uint16) * 257  # the same values at 16 bits
    write_photo(tmp_path / "w.png", Photo(wide))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the viewer rotates 90° clockwise
    Image.fromarray(rgb).save(tmp_path / "e.png", exif=exif.tobytes())

    result = upscale_files([tmp_path / "*.png"], tiny_sr, tmp_path / "out", tile=0, progress=False)
    assert len(result["written"]) == 4 and not result["failed"]
    out = tmp_path / "out"

    g = read_photo(out / "g_x2.png")
    assert g.gray and g.bits == 8 and g.pixels.shape == (60, 52)

    a = read_photo(out / "a_x2.png")
    assert a.alpha is not None and a.pixels.shape == (60, 52, 3)
    expected_alpha = np.asarray(Image.fromarray(alpha).resize((52, 60), Image.BICUBIC))
    assert np.array_equal(a.alpha, expected_alpha)
    assert np.array_equal(a.pixels, upscale_photo(Photo(rgb), tiny_sr, 2, tile=0).pixels)

    w = read_photo(out / "w_x2.png")
    assert w.bits == 16 and w.pixels.shape == (60, 52, 3)
    eight = upscale_photo(Photo(rgb), tiny_sr, 2, tile=0).pixels.astype(float)
    # The same photo at 16 bits gives the 8-bit result up to rounding (8-bit truncates, chroma in float).
    assert np.abs(w.pixels / 257.0 - eight).max() < 2.0
    assert not np.array_equal(w.pixels % 257, np.zeros_like(w.pixels))  # really computed at 16 bits

    e = read_photo(out / "e_x2.png")
    assert e.pixels.shape == (52, 60, 3)  # upright: width and height swapped
    upright = np.rot90(rgb, -1)
    assert np.array_equal(e.pixels, upscale_photo(Photo(np.ascontiguousarray(upright)), tiny_sr, 2, 0).pixels)


def test_bad_files_are_reported_and_the_rest_still_processed(tiny_sr, tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "good.png")
    full = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    (tmp_path / "notes.png").write_text("not an image")
    out = tmp_path / "out"
    result = upscale_files(
        [tmp_path / "cut.png", tmp_path / "notes.png", tmp_path / "missing.png", tmp_path / "good.png"],
        tiny_sr, out, progress=False,
    )  # fmt: skip
    assert result["written"] == [str(out / "good_x2.png")]
    messages = sorted(m for _, m in result["failed"])
    assert len(messages) == 3 and all("\n" not in m for m in messages)
    assert "missing.png: no such file" in messages[0]
    assert messages[1].startswith("corrupt or truncated image:") and "cut.png" in messages[1]
    assert messages[2].startswith("not an image file") and "notes.png" in messages[2]
    assert sorted(p.name for p in out.iterdir()) == ["good_x2.png"]  # nothing half-written

    # Existing outputs are skipped, and replaced only with --overwrite.
    (out / "good_x2.png").write_bytes(b"old")
    again = upscale_files([tmp_path / "good.png"], tiny_sr, out, progress=False)
    assert again["skipped"] and not again["written"] and (out / "good_x2.png").read_bytes() == b"old"
    again = upscale_files([tmp_path / "good.png"], tiny_sr, out, overwrite=True, fmt="jpg", progress=False)
    assert again["written"] == [str(out / "good_x2.jpg")]


def test_setup_errors(tiny_sr, tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "p.png")
    (tmp_path / "file").write_text("x")
    rf = tiny_sr.receptive_field
    cases = [
        (dict(out_dir=tmp_path / "file"), "is a file; this output is a folder"),
        (dict(scale=3), "upscales ×2, but --scale 3"),
        (dict(tile=rf - 1), "smaller than the model's receptive field"),
        (dict(tile_pad=rf - 1), "--tile-pad"),
    ]
    for kwargs, message in cases:
        args = dict(inputs=[tmp_path / "p.png"], model=tiny_sr, out_dir=tmp_path / "o") | kwargs
        with pytest.raises(FalsrError, match=message):
            upscale_files(**args, progress=False)
    assert not (tmp_path / "o").exists()


def test_cli_upscale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An architecture file plus weights as MODEL; one-line errors; the default model, or a hint."""
    from falsr_cli.cli import main

    arch, model = shared_tiny()
    arch.save(tmp_path / "tiny.json")
    model.save_weights(tmp_path / "tiny.weights.h5")
    Image.fromarray(_rgb()).save(tmp_path / "p.png")
    (tmp_path / "bad.png").write_text("x")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    model_args = ["--model", "tiny.json", "--weights", "tiny.weights.h5"]
    res = runner.invoke(main, ["upscale", "p.png", "bad.png", *model_args, "--out", "o"])
    assert res.exit_code == 1, res.output
    assert (tmp_path / "o" / "p_x2.png").is_file()
    assert "error: not an image file" in res.output and "Traceback" not in res.output
    # No --model: the repository's best pretrained model, found beside the package from any folder.
    res = runner.invoke(main, ["upscale", "p.png", "--out", "o2"])
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and "model t291-FALSR-B-res-moon, x2" in said, res.output
    assert Image.open(tmp_path / "o2" / "p_x2.png").size == (2 * _rgb().shape[1], 2 * _rgb().shape[0])
    import falsr_cli.runtime.open as source

    monkeypatch.setattr(source, "DEFAULT_MODEL", Path("pretrained_model") / "absent.pb")
    res = runner.invoke(main, ["upscale", "p.png", "--out", "o3"])
    assert res.exit_code == 1 and "no pretrained model at pretrained_model/absent.pb" in res.output
    assert "--model" in res.output and not (tmp_path / "o3").exists()


def test_tiles_follow_the_memory_budget(tiny_sr, tmp_path: Path) -> None:
    """No --tile: the tile is the largest whose network memory fits --memory; the pixels do not change."""
    from falsr_cli.runtime.tiling import tile_for_memory

    Image.fromarray(_rgb(60, 70)).save(tmp_path / "p.png")
    floats, pad = tiny_sr.working_floats, tiny_sr.receptive_field
    assert floats and pad
    small = 4 * floats * (2 * pad + 16.5) ** 2  # room for a 16-pixel core, not 24
    runs = {}
    for name, memory in (("small", small), ("large", 1e9)):
        runs[name] = upscale_files([tmp_path / "p.png"], tiny_sr, tmp_path / name, memory=memory,
                                   progress=False)
    assert runs["small"]["tile"] == tile_for_memory(small, floats, pad) == 16
    assert runs["small"]["memory"] == small
    assert runs["large"]["tile"] > 70  # one tile holds the whole photo
    a, b = (np.asarray(Image.open(tmp_path / n / "p_x2.png")).astype(int) for n in ("small", "large"))
    assert np.abs(a - b).max() <= 1
    with pytest.raises(FalsrError, match="--memory must be positive"):
        upscale_files([tmp_path / "p.png"], tiny_sr, tmp_path / "o", memory=0, progress=False)
    import dataclasses

    from falsr_cli.runtime.upscale import TFLITE_MEMORY_FACTOR, tile_size

    # XNNPACK holds more per pixel than TensorFlow: the same budget gives it smaller tiles.
    lite = dataclasses.replace(tiny_sr, engine="xnnpack")
    assert tile_size(lite, pad, 1e7) == tile_for_memory(1e7, math.ceil(TFLITE_MEMORY_FACTOR * floats), pad)
    assert tile_size(lite, pad, 1e7) < tile_size(tiny_sr, pad, 1e7)
    wide = dataclasses.replace(tiny_sr, receptive_field=20)  # a receptive field wider than the least tile
    with pytest.raises(FalsrError, match=r"--memory \(1,000 bytes\) is too small for .*: its smallest"):
        upscale_files([tmp_path / "p.png"], wide, tmp_path / "o", memory=1e3, progress=False)
    assert not (tmp_path / "o").exists()


def test_cli_memory_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from falsr_cli.cli import main

    Image.fromarray(_rgb()).save(tmp_path / "p.png")
    monkeypatch.chdir(tmp_path)
    args = ["upscale", "p.png", "--model", "bicubic", "--out", "o", "--memory"]
    res = CliRunner().invoke(main, [*args, "lots"])
    assert res.exit_code == 2 and "'lots' is not a memory size like 512M" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, [*args, "256MiB"])
    assert res.exit_code == 0, res.output


def test_memory_sizes_parse() -> None:
    from falsr_cli.units import parse_bytes

    assert parse_bytes("512M", "m") == 512e6 and parse_bytes("1.5G", "m") == 1.5e9
    assert parse_bytes("2GB", "m") == 2e9 and parse_bytes("800MiB", "m") == 800 * 2**20
    assert parse_bytes(1024, "m") == 1024.0 and parse_bytes(None, "m") is None
    for bad in ("-1G", "0", "1X", "G"):
        with pytest.raises(FalsrError, match="m: "):
            parse_bytes(bad, "m")


def _zlib_level(png: Path) -> int:
    """FLEVEL of the first IDAT's zlib header: 0 for level 1 (fastest), 2 for 6 (default), 3 for 9."""
    data = png.read_bytes()
    at = data.index(b"IDAT") + 4
    return data[at + 1] >> 6


def test_pngs_are_written_at_the_fast_zlib_level(tmp_path: Path) -> None:
    # 8-bit through Pillow and 16-bit through our own writer, both at PNG_COMPRESS_LEVEL 1, and lossless.
    for name, pixels in (("8.png", _rgb()), ("16.png", _rgb().astype(np.uint16) * 257)):
        write_photo(tmp_path / name, Photo(pixels))
        assert _zlib_level(tmp_path / name) == 0, name
        assert np.array_equal(read_photo(tmp_path / name).pixels, pixels)


def test_nothing_to_write_does_not_open_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun whose outputs all exist skips the seconds of opening a model that is there; a model that
    is not there (a typo) is still opened, so it still fails."""
    import falsr_cli.runtime.upscale as upscale

    opened: list[str] = []

    def fake_open(spec, *args, **kwargs):
        opened.append(str(spec))
        raise FalsrError(f"opened {spec}")

    monkeypatch.setattr(upscale, "open_model", fake_open)
    Image.fromarray(_rgb()).save(tmp_path / "p.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "p_x2.png").write_bytes(b"old")
    (tmp_path / "net.pb").write_bytes(b"a graph")
    result = upscale_files([tmp_path / "p.png"], tmp_path / "net.pb", out, progress=False)
    assert not opened and result["engine"] is None and result["model"] == "net"
    assert [p for p, _ in result["skipped"]] == [str(tmp_path / "p.png")] and not result["written"]
    assert (out / "p_x2.png").read_bytes() == b"old"
    for model, fmt in (("FALSR-Q", None), (tmp_path / "net.pb", "jpg")):  # a typo; an output to write
        with pytest.raises(FalsrError, match="opened"):
            upscale_files([tmp_path / "p.png"], model, out, fmt=fmt, progress=False)
    assert opened == ["FALSR-Q", str(tmp_path / "net.pb")]
