"""The data set registry: download from a mirror with sha256 checks, resume, bad files, no network, CLI."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.data import registry
from falsr_cli.data.images import write_image
from falsr_cli.errors import FalsrError


def test_registry_lists_the_sets_with_hashes():
    names = [d.name for d in registry.list_datasets()]
    for n in ("samples", "Set5", "Set14", "B100", "Urban100", "T91", "BSDS200", "DIV2K", "DIV2K-valid"):
        assert n in names
    set5 = registry.get_dataset("set5")  # case-insensitive
    assert set5.images == 5 and set5.kind == "benchmark" and len(set5.files) == 10
    assert all(len(f.sha256) == 64 and f.bytes > 0 for f in set5.files)
    assert registry.get_dataset("B100").images == 100 and registry.get_dataset("T91").images == 91
    assert registry.get_dataset("DIV2K").images == 800 and registry.get_dataset("DIV2K-valid").images == 100
    with pytest.raises(FalsrError, match="unknown data set: Set6"):
        registry.get_dataset("Set6")


@pytest.mark.shared
def test_registry_agrees_with_the_reference_manifest(shared_dir):
    manifest = json.loads((shared_dir / "datasets" / "manifest.json").read_text())["datasets"]
    for name, d in manifest.items():
        ds = registry.get_dataset(name)
        assert ds.source == d["source"]
        assert [(f.name, f.bytes, f.sha256) for f in ds.files] == [
            (f["name"], f["bytes"], f["sha256"]) for f in d["files"]
        ]


@pytest.mark.shared
def test_download_set5_from_mirror_verifies_and_is_idempotent(tmp_path, monkeypatch, benchmark_mirror):
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(benchmark_mirror))
    assert not registry.is_present("Set5", tmp_path)
    folder = registry.ensure_dataset("Set5", data_dir=tmp_path)
    assert folder == tmp_path / "Set5"
    report = registry.verify("Set5", tmp_path)
    assert report.complete and len(report.ok) == 10
    assert not list(folder.glob("*.part"))
    stamp = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    registry.download("Set5", data_dir=tmp_path)  # nothing to do: files verified
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamp


@pytest.mark.shared
def test_corrupt_mirror_file_is_named_and_good_local_file_kept(tmp_path, monkeypatch, benchmark_mirror):
    mirror = tmp_path / "mirror"
    shutil.copytree(benchmark_mirror / "Set5", mirror / "Set5")
    bad = mirror / "Set5" / "img_003_SRF_2_HR.png"
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF  # same size, wrong content
    bad.write_bytes(bytes(data))
    local = tmp_path / "data"
    # A good local copy of the file exists beforehand, and a damaged one of another.
    (local / "Set5").mkdir(parents=True)
    good = local / "Set5" / "img_003_SRF_2_HR.png"
    shutil.copy(benchmark_mirror / "Set5" / good.name, good)
    good_bytes = good.read_bytes()
    (local / "Set5" / "img_004_SRF_2_HR.png").write_bytes(b"damaged")
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(mirror))
    # The good local file is not refetched, so the bad mirror copy never touches it.
    registry.download("Set5", data_dir=local)
    assert good.read_bytes() == good_bytes and registry.verify("Set5", local).complete
    # Forcing a refetch hits the bad mirror file: the error names it, the good file stays.
    with pytest.raises(FalsrError, match="Set5/img_003_SRF_2_HR.png.*sha256") as e:
        registry.download("Set5", data_dir=local, force=True)
    assert "\n" not in str(e.value)
    assert good.read_bytes() == good_bytes
    assert not list((local / "Set5").glob("*.part"))


def test_no_network_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FALSR_DATA_MIRROR", "http://127.0.0.1:9/")
    with pytest.raises(FalsrError, match="no network") as e:
        registry.download("Set5", data_dir=tmp_path)
    assert "img_001_SRF_2_HR.png" in str(e.value) and "\n" not in str(e.value)
    result = CliRunner().invoke(main, ["dataset", "download", "Set5", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: cannot download Set5/")
    with pytest.raises(FalsrError, match="not complete"):
        registry.ensure_dataset("Set5", data_dir=tmp_path, download=False)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support; counts the bytes it serves."""

    served = 0

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])
        type(self).served += len(data) - start


@pytest.fixture
def http_mirror(benchmark_mirror):
    def handler(*args, **kwargs):
        return _RangeHandler(*args, directory=str(benchmark_mirror), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _RangeHandler.served = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.shared
def test_http_download_resumes_a_part_file(tmp_path, monkeypatch, http_mirror, benchmark_mirror):
    monkeypatch.setenv("FALSR_DATA_MIRROR", http_mirror)
    folder = tmp_path / "Set5"
    folder.mkdir()
    name = "img_001_SRF_2_HR.png"
    whole = (benchmark_mirror / "Set5" / name).read_bytes()
    (folder / (name + ".part")).write_bytes(whole[:300000])  # an interrupted earlier download
    registry.download("Set5", data_dir=tmp_path)
    assert registry.verify("Set5", tmp_path).complete
    total = sum(f.bytes for f in registry.get_dataset("Set5").files)
    assert _RangeHandler.served == total - 300000


def _fake_div2k(monkeypatch, count: int = 3) -> registry.Dataset:
    """A small stand-in for the DIV2K entry (same code path: zip, names, count, long side)."""
    ds = registry.Dataset(
        name="DIV2K",
        kind="train",
        scale=None,
        description="test",
        source={"url": "https://example.invalid/DIV2K_train_HR.zip", "archive": "DIV2K_train_HR.zip"},
        expect={"first": 1, "count": count, "long_side": 40},
    )
    reg = dict(registry._registry())
    reg["DIV2K"] = ds
    monkeypatch.setattr(registry, "_registry", lambda: reg)
    return ds


def test_archive_set_is_extracted_and_checked_by_count_and_size(tmp_path, monkeypatch):
    _fake_div2k(monkeypatch)
    mirror = tmp_path / "mirror" / "DIV2K"
    mirror.mkdir(parents=True)
    images = tmp_path / "imgs"
    for i, (h, w) in enumerate([(40, 30), (20, 40), (40, 40)], start=1):
        write_image(images / f"{i:04d}.png", np.zeros((h, w, 3), np.uint8))
    with zipfile.ZipFile(mirror / "DIV2K_train_HR.zip", "w") as zf:
        for p in sorted(images.iterdir()):
            zf.write(p, f"DIV2K_train_HR/{p.name}")
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(tmp_path / "mirror"))
    data = tmp_path / "data"
    folder = registry.ensure_dataset("DIV2K", data_dir=data)
    assert sorted(p.name for p in folder.iterdir()) == ["0001.png", "0002.png", "0003.png"]
    assert registry.verify("DIV2K", data).complete
    assert not (data / "DIV2K_train_HR.zip").exists()  # removed once extracted
    # A wrong-sized image is reported as bad.
    write_image(folder / "0002.png", np.zeros((20, 30, 3), np.uint8))
    report = registry.verify("DIV2K", data)
    assert [f for f, _ in report.bad] == ["0002.png"] and "long side" in report.bad[0][1]


def test_archive_missing_images_is_an_error(tmp_path, monkeypatch):
    _fake_div2k(monkeypatch, count=5)
    mirror = tmp_path / "mirror" / "DIV2K"
    mirror.mkdir(parents=True)
    with zipfile.ZipFile(mirror / "DIV2K_train_HR.zip", "w") as zf:
        zf.writestr("DIV2K_train_HR/0001.png", b"x")
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(FalsrError, match="lacks 4 of the 5"):
        registry.download("DIV2K", data_dir=tmp_path / "data")


@pytest.mark.shared
def test_cli_list_path_verify(tmp_path, monkeypatch, benchmark_mirror):
    runner = CliRunner()
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(benchmark_mirror))
    data = str(tmp_path)
    result = runner.invoke(main, ["dataset", "list", "--data-dir", data])
    assert result.exit_code == 0, result.output
    for n in ("Set5", "Urban100", "BSDS200", "DIV2K", "samples"):
        assert n in result.output
    result = runner.invoke(main, ["dataset", "path", "Set14", "--data-dir", data])
    assert result.exit_code == 0 and result.output.strip() == str(tmp_path / "Set14")
    result = runner.invoke(main, ["dataset", "verify", "Set5", "--data-dir", data])
    assert result.exit_code == 1 and "error: Set5: 10 missing" in result.output
    result = runner.invoke(main, ["dataset", "download", "Set5", "--data-dir", data])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["dataset", "verify", "Set5", "--data-dir", data])
    assert result.exit_code == 0 and "all 10 files OK" in result.output
    listing = runner.invoke(main, ["dataset", "list", "--data-dir", data]).output
    assert [line.split("│")[4].strip() for line in listing.splitlines() if "│ Set5 " in line] == ["yes"]
    (tmp_path / "Set5" / "img_002_SRF_2_LR.png").write_bytes(b"oops")
    result = runner.invoke(main, ["dataset", "verify", "Set5", "--data-dir", data])
    assert result.exit_code == 1 and "bad      img_002_SRF_2_LR.png" in result.output
    result = runner.invoke(main, ["dataset", "verify", "Nope", "--data-dir", data])
    assert result.exit_code == 1 and "error: unknown data set: Nope" in result.output
    monkeypatch.setenv("FALSR_DATA", data)
    result = runner.invoke(main, ["dataset", "list"])
    assert result.exit_code == 0 and str(tmp_path) in result.output.replace("\n", "")


def test_bsds200_splits_hold_out_ten_images_named_in_the_registry():
    val, train, whole = (registry.get_dataset(n) for n in ("BSDS200-val", "BSDS200-train", "BSDS200"))
    assert (val.images, train.images) == (10, 190)
    assert set(val.file_names).isdisjoint(train.file_names)
    assert set(val.file_names) | set(train.file_names) == set(whole.file_names)
    assert val.parent == train.parent == "BSDS200" and val.folder_name == "BSDS200"
    assert registry.dataset_dir("BSDS200-val", "/d") == registry.dataset_dir("BSDS200", "/d")
    # Every file keeps its size and sha256 (a split is checked like its parent).
    assert all(f.sha256 and f.bytes for f in val.files)


@pytest.mark.shared
def test_a_split_downloads_only_its_files_and_loads_only_them(tmp_path, monkeypatch, train_mirror):
    from falsr_cli.data.pairs import list_hr_files, load_pairs

    monkeypatch.setenv("FALSR_DATA_MIRROR", str(train_mirror))
    pairs = load_pairs("BSDS200-val", data_dir=tmp_path)
    held = registry.get_dataset("BSDS200-val").file_names
    assert sorted(p.name + ".png" for p in pairs) == sorted(held)
    assert sorted(p.name for p in (tmp_path / "BSDS200").glob("*.png")) == sorted(held)
    assert registry.verify("BSDS200-val", tmp_path).complete and not registry.is_present("BSDS200", tmp_path)
    # With the whole set present, the training split still leaves the held-out images out.
    registry.download("BSDS200", data_dir=tmp_path)
    train_files = {p.name for p in list_hr_files("BSDS200-train", data_dir=tmp_path)}
    assert len(train_files) == 190 and train_files.isdisjoint(held)
