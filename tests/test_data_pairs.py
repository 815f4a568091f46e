"""LR/HR pairs from names and folders, HR-only folders with cached LR, and the built-in samples."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from falsr_cli.data.images import read_rgb, write_image
from falsr_cli.data.imresize import imresize
from falsr_cli.data.pairs import ImagePair, list_hr_files, load_hr_images, load_pairs, lr_cache_dir
from falsr_cli.errors import FalsrError


def _rand(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pair_folder_loads_in_order_with_names(tmp_path):
    for i, (h, w) in enumerate([(8, 10), (12, 6)], start=1):
        hr = _rand(h, w, i)
        write_image(tmp_path / f"img_{i:03d}_SRF_2_HR.png", hr)
        write_image(tmp_path / f"img_{i:03d}_SRF_2_LR.png", imresize(hr, 0.5))
    pairs = load_pairs(tmp_path, data_dir=tmp_path / "data")
    assert [p.name for p in pairs] == ["img_001", "img_002"]
    assert isinstance(pairs[0], ImagePair)
    assert pairs[1].hr.shape == (12, 6, 3) and pairs[1].lr.shape == (6, 3, 3)
    assert all(p.note is None for p in pairs)
    assert [n for n, _ in load_hr_images(tmp_path)] == ["img_001", "img_002"]


def test_pair_size_mismatch_names_the_file(tmp_path):
    write_image(tmp_path / "img_001_SRF_2_HR.png", _rand(10, 10))
    write_image(tmp_path / "img_001_SRF_2_LR.png", _rand(6, 5))
    with pytest.raises(FalsrError, match="img_001_SRF_2_HR.png.*x2"):
        load_pairs(tmp_path)


def test_pair_without_lr_and_wrong_scale(tmp_path):
    write_image(tmp_path / "img_001_SRF_2_HR.png", _rand(10, 10))
    with pytest.raises(FalsrError, match="no matching LR"):
        load_pairs(tmp_path)
    with pytest.raises(FalsrError, match="no x3 pairs"):
        load_pairs(tmp_path, scale=3)


def test_grayscale_pair_carries_a_note(tmp_path):
    grey = np.random.default_rng(3).integers(0, 256, (8, 8), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "img_001_SRF_2_HR.png")
    Image.fromarray(imresize(grey, 0.5), mode="L").save(tmp_path / "img_001_SRF_2_LR.png")
    (pair,) = load_pairs(tmp_path)
    assert pair.hr.shape == (8, 8, 3)
    assert "grayscale" in pair.note


def test_hr_only_folder_makes_lr_once_and_caches_it(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "b10.png", _rand(11, 9, 1))  # odd sizes: modcropped to 10x8
    write_image(folder / "b2.png", _rand(8, 8, 2))
    data = tmp_path / "data"
    pairs = load_pairs(folder, data_dir=data)
    assert [p.name for p in pairs] == ["b2", "b10"]  # natural order
    hr = read_rgb(folder / "b10.png")[0][:10, :8]
    np.testing.assert_array_equal(pairs[1].hr, hr)
    np.testing.assert_array_equal(pairs[1].lr, imresize(hr, 0.5))
    cached = sorted(lr_cache_dir(data, 2).glob("*.png"))
    assert len(cached) == 2
    # The second load reads the cache: prove it by planting a marker value in a cached file (written, as
    # an entry must be, with its key: one without is remade, tests/test_bad_input_caches.py).
    for path in cached:
        lr = read_rgb(path)[0].copy()
        lr[0, 0] = [1, 2, 3]
        write_image(path, lr, key=path.stem)
    again = load_pairs(folder, data_dir=data)
    assert all(tuple(p.lr[0, 0]) == (1, 2, 3) for p in again)
    # Uncropped HR images for training.
    assert load_hr_images(folder)[1][1].shape == (11, 9, 3)


def test_unknown_spec_and_empty_folder(tmp_path):
    with pytest.raises(FalsrError, match="unknown data set or folder: NoSuchSet"):
        load_pairs("NoSuchSet", data_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FalsrError, match="no images"):
        load_pairs(tmp_path / "empty", data_dir=tmp_path)


def test_corrupt_image_in_folder_names_it(tmp_path):
    write_image(tmp_path / "good.png", _rand(8, 8))
    (tmp_path / "zbad.png").write_bytes(b"garbage")
    with pytest.raises(FalsrError, match="zbad.png"):
        load_pairs(tmp_path, data_dir=tmp_path / "data")


def test_samples_are_built_offline_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FALSR_DATA_MIRROR", "http://127.0.0.1:9/")  # any network use would fail
    pairs = load_pairs("samples", data_dir=tmp_path)
    assert len(pairs) >= 4
    for p in pairs:
        assert p.hr.shape[2] == 3 and max(p.hr.shape[:2]) <= 256
        assert p.hr.shape[0] == 2 * p.lr.shape[0] and p.hr.shape[1] == 2 * p.lr.shape[1]
        np.testing.assert_array_equal(p.lr, imresize(p.hr, 0.5))
    files = sorted((tmp_path / "samples").glob("img_*_SRF_2_*.png"))
    assert len(files) == 2 * len(pairs)
    stamp = [f.stat().st_mtime_ns for f in files]
    assert len(load_pairs("samples", data_dir=tmp_path)) == len(pairs)
    assert [f.stat().st_mtime_ns for f in files] == stamp  # not rewritten
    assert len(load_hr_images("samples", data_dir=tmp_path)) == len(pairs)
    assert len(list_hr_files("samples", data_dir=tmp_path)) == len(pairs)


@pytest.mark.shared
def test_training_set_from_mirror_gives_hr_images(tmp_path, monkeypatch, train_mirror):
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(train_mirror))
    files = list_hr_files("T91", data_dir=tmp_path)
    assert len(files) == 91 and files[0].name == "t1.bmp" and files[1].name == "t2.bmp"
