"""Caches are verified against the key they claim (issue 23, class 4): a TFLite entry swapped for another
model's, cut short or edited is converted again; so is an LR image of the cache; a profile copied from
another key is not used."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def two_models():
    from export_models import tiny_model

    return tiny_model(seed=0)[1], tiny_model(seed=1)[1]


def test_a_swapped_or_damaged_tflite_cache_entry_is_converted_again(two_models, tmp_path, monkeypatch):
    import falsr_cli.models.engine as E

    mine, other = two_models
    y = np.random.default_rng(0).random((1, 9, 7, 1), dtype=np.float32)
    expected = np.asarray(mine(y, training=False))
    theirs = E.cached_tflite(other, tmp_path)
    entry = E.cache_dir(tmp_path) / f"{E.model_digest(mine)}.tflite"
    other_entry = E.cache_dir(tmp_path) / f"{E.model_digest(other)}.tflite"
    for name, damage in [
        ("another model's entry", lambda: entry.write_bytes(other_entry.read_bytes())),
        ("another model's bare .tflite", lambda: entry.write_bytes(theirs)),
        ("cut short", lambda: entry.write_bytes(other_entry.read_bytes()[:-1000])),
        ("a byte changed", lambda: entry.write_bytes(_flip(entry))),  # the entry rebuilt by the step before
    ]:
        damage()
        got = E.TFLiteModel(E.cached_tflite(mine, tmp_path), num_threads=1)(y)
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=name)
        assert E.cached_tflite(mine, tmp_path) != theirs
    # The rebuilt entry is whole again, and read back without converting.
    monkeypatch.setattr(E, "luma_tflite_bytes", lambda *a, **k: pytest.fail("converted again"))
    E.cached_tflite(mine, tmp_path)


def _flip(path) -> bytes:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    return bytes(data)


def test_a_swapped_or_damaged_lr_cache_image_is_made_again(tmp_path):
    from falsr_cli.data.pairs import load_pairs, lr_cache_dir

    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / name)
    first = {p.name: p.lr for p in load_pairs(folder, data_dir=tmp_path)}
    entries = sorted(lr_cache_dir(tmp_path).glob("*.png"))
    assert len(entries) == 2
    a, b = entries
    swapped = a.read_bytes()
    a.write_bytes(b.read_bytes())  # same size, another image's LR: only the key tells them apart
    b.write_bytes(swapped[: len(swapped) // 2])  # cut short
    again = {p.name: p.lr for p in load_pairs(folder, data_dir=tmp_path)}
    for name in first:
        np.testing.assert_array_equal(again[name], first[name])


def test_a_latency_profile_of_another_key_is_not_used(tmp_path, monkeypatch):
    import json

    import falsr_cli.models.latency as M

    built = {"format": "falsr-latency-profile", "runtime": "tf", "threads": 1, "input": [16, 16],
             "scale": 2, "features": 32, "ops": {"conv": 1.0}, "seconds": 1, "machine": {"cpu": "x"},
             "calibration": {"a": 1.0, "b": 0.0, "networks": []}}
    monkeypatch.setattr(M, "build_profile", lambda *a, **k: built)
    monkeypatch.setattr(M, "check_memory", lambda *a, **k: None)
    path = M.profile_path("tf", 1, (16, 16), 2, 32, tmp_path)
    path.parent.mkdir(parents=True)
    for other in ({"runtime": "xnnpack"}, {"input": [240, 240]}, {"features": 8}, {"scale": 3}):
        path.write_text(json.dumps({**built, **other}))  # another profile's file under this one's name
        profile, _ = M.load_profile("tf", 1, (16, 16), data_dir=tmp_path)
        assert profile == built and json.loads(path.read_text()) == built


def test_the_machines_cache_is_never_the_folder_a_command_runs_in(tmp_path, monkeypatch):
    """Engine choice and XNNPACK conversions go to FALSR_CACHE / XDG / ~/.cache, or a chosen data folder."""
    from pathlib import Path

    from click.testing import CliRunner

    from falsr_cli.cli import main
    from falsr_cli.paths import cache_dir

    for var in ("FALSR_DATA", "FALSR_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "falsr"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "falsr"
    assert cache_dir(tmp_path / "d") == tmp_path / "d" / "cache"  # --data-dir
    monkeypatch.setenv("FALSR_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv("FALSR_DATA", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data" / "cache"
    monkeypatch.delenv("FALSR_DATA")

    # `falsr upscale` in a folder of photos leaves nothing there but its output folder.
    work = tmp_path / "photos"
    work.mkdir()
    monkeypatch.chdir(work)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 10, 3), np.uint8)).save("p.png")
    arch = "x2-f16:conv_f16_k3_b1_noskip,conv_f16_k3_b1_noskip:011"
    r = CliRunner().invoke(main, ["export", arch, "--weights", "random", "--format", "pb", "--out",
                                  str(tmp_path / "m.pb")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["upscale", "p.png", "--model", str(tmp_path / "m.pb"), "--engine",
                                  "xnnpack", "--out", "big"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in Path(".").iterdir()) == ["big", "p.png"]
    assert list((tmp_path / "c" / "tflite").glob("pb-*.tflite"))
