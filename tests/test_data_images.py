"""Reading odd images (grayscale, RGBA, 16-bit, palette, broken) and writing images atomically."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from falsr_cli.data.images import read_rgb, write_image
from falsr_cli.errors import FalsrError


def _png16(path, arr: np.ndarray) -> None:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour); 'Sub' filter on every row."""
    h, w, c = arr.shape
    colour_type = {1: 0, 3: 2, 4: 6}[c]
    rows = []
    for y in range(h):
        b = np.frombuffer(arr[y].astype(">u2").tobytes(), np.uint8).astype(np.int64)
        bpp = 2 * c
        filtered = b.copy()
        filtered[bpp:] = (b[bpp:] - b[:-bpp]) % 256
        rows.append(b"\x01" + filtered.astype(np.uint8).tobytes())

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def test_rgb_png_round_trip_has_no_note(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", img)
    out, note = read_rgb(tmp_path / "a.png")
    np.testing.assert_array_equal(out, img)
    assert note is None and out.dtype == np.uint8


def test_grayscale_becomes_rgb_with_a_note(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    out, note = read_rgb(tmp_path / "g.png")
    assert out.shape == (4, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)
    assert "grayscale" in note


def test_rgba_drops_alpha_keeping_colour(tmp_path):
    rgba = np.zeros((3, 4, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 200, 100, 50, 0  # fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out, note = read_rgb(tmp_path / "a.png")
    assert out.shape == (3, 4, 3)
    assert (out == [200, 100, 50]).all()  # not composited onto black
    assert "alpha" in note


def test_16bit_colour_and_grey_are_rounded_by_257(tmp_path):
    values = np.array([[[0, 32968, 65535], [25828, 300, 1000]]], dtype=np.uint16)  # 1000/257 = 3.89 → 4
    _png16(tmp_path / "c.png", values)
    out, note = read_rgb(tmp_path / "c.png")
    np.testing.assert_array_equal(out, [[[0, 128, 255], [100, 1, 4]]])  # truncation would give 3 for 1000
    assert "16-bit" in note

    rgba = np.concatenate([values, np.full((1, 2, 1), 65535, np.uint16)], axis=-1)
    _png16(tmp_path / "ca.png", rgba)
    out, note = read_rgb(tmp_path / "ca.png")
    np.testing.assert_array_equal(out, [[[0, 128, 255], [100, 1, 4]]])
    assert "16-bit" in note and "alpha" in note

    _png16(tmp_path / "g.png", values[..., :1])
    out, note = read_rgb(tmp_path / "g.png")
    np.testing.assert_array_equal(out[..., 1], [[0, 100]])
    assert "grayscale" in note and "16-bit" in note


def test_palette_image_is_converted_losslessly(tmp_path):
    img = Image.new("P", (4, 2))
    img.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    img.save(tmp_path / "p.png")
    out, note = read_rgb(tmp_path / "p.png")
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[1, 1]) == (200, 100, 0)
    assert note is None


def test_exif_orientation_only_when_asked(tmp_path):
    img = np.zeros((2, 4, 3), dtype=np.uint8)
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    pil.save(tmp_path / "r.jpg", exif=exif)
    assert read_rgb(tmp_path / "r.jpg")[0].shape == (2, 4, 3)
    assert read_rgb(tmp_path / "r.jpg", exif=True)[0].shape == (4, 2, 3)


@pytest.mark.parametrize(
    "content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40], ids=["text", "bad-png"]
)
def test_not_an_image_names_the_file(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(FalsrError, match="broken.png"):
        read_rgb(path)


def test_truncated_image_names_the_file(tmp_path):
    rng = np.random.default_rng(2)
    write_image(tmp_path / "full.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(FalsrError, match="cut.png") as e:
        read_rgb(tmp_path / "cut.png")
    assert "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(FalsrError, match="nope.png"):
        read_rgb(tmp_path / "nope.png")


def test_write_formats_and_atomicity(tmp_path):
    img = np.full((8, 8, 3), 120, dtype=np.uint8)
    for ext, fmt in ((".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP")):
        write_image(tmp_path / f"x{ext}", img)
        with Image.open(tmp_path / f"x{ext}") as im:
            assert im.format == fmt
    with pytest.raises(FalsrError, match="x.gif"):
        write_image(tmp_path / "x.gif", img)
    with pytest.raises(FalsrError):
        write_image(tmp_path / "f.png", img.astype(np.float32))
    with pytest.raises(FalsrError):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 5), dtype=np.uint8))


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "x.png"
    write_image(target, np.full((8, 8, 3), 7, dtype=np.uint8))
    before = target.read_bytes()

    def half_write(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", half_write)
    with pytest.raises(OSError):
        write_image(target, np.zeros((8, 8, 3), dtype=np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temporary left behind
