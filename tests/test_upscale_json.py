"""`falsr upscale --json` records what was written and what failed, and still exits 1 on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from falsr_cli.cli import main


def test_upscale_json_lists_written_and_failed(tmp_path):
    good, bad = tmp_path / "a.png", tmp_path / "bad.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(good)
    bad.write_bytes(b"not a png")
    report = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["upscale", str(good), str(bad), "-m", "bicubic",
                                    "-o", str(tmp_path / "out"), "--json", str(report)])
    assert res.exit_code == 1
    doc = json.loads(report.read_text())
    assert doc["written"] == [str(tmp_path / "out" / "a_x2.png")]
    assert [f[0] for f in doc["failed"]] == [str(bad)]
    assert Image.open(doc["written"][0]).size == (48, 40)


def test_upscale_json_says_what_auto_chose_and_from_which_timings(tmp_path, monkeypatch):
    from falsr_cli.models import engine as E

    known = {"choice": "xnnpack", "tf_ms": 120.0, "xnnpack_ms": 118.0, "cpu": "test", "threads": 1}
    monkeypatch.setattr(E, "faster_cpu_engine", lambda data_dir=None: known)
    monkeypatch.setattr("falsr_cli.runtime.upscale.faster_cpu_engine", lambda data_dir=None: known)
    monkeypatch.setenv("FALSR_DATA", str(tmp_path / "data"))  # the conversion's cache
    photo = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(photo)
    pb = tmp_path / "tiny.pb"
    arch = "x2-f32:conv_f16_k3_b1_noskip:1"
    assert CliRunner().invoke(main, ["export", arch, "--weights", "random", "--format", "pb",
                                     "--out", str(pb)]).exit_code == 0
    for engine, choice in (("auto", known), ("tf", None)):
        report = tmp_path / f"{engine}.json"
        res = CliRunner().invoke(main, ["upscale", str(photo), "-m", str(pb), "--engine", engine, "-o",
                                        str(tmp_path / engine), "--json", str(report)])
        assert res.exit_code == 0, res.output
        doc = json.loads(report.read_text())
        assert doc["engine_choice"] == choice
        assert doc["engine"] == (known["choice"] if engine == "auto" else "tf")
    # A .tflite runs in XNNPACK whatever --engine says: the report says so, and auto measures nothing.
    lite = tmp_path / "tiny.tflite"
    assert CliRunner().invoke(main, ["export", arch, "--weights", "random", "--format", "tflite",
                                     "--out", str(lite)]).exit_code == 0

    def unasked(data_dir=None):
        raise AssertionError("auto measured for a .tflite")

    monkeypatch.setattr(E, "faster_cpu_engine", unasked)
    monkeypatch.setattr("falsr_cli.runtime.upscale.faster_cpu_engine", unasked)
    for engine in ("auto", "tf"):
        report = tmp_path / f"lite-{engine}.json"
        res = CliRunner().invoke(main, ["upscale", str(photo), "-m", str(lite), "--engine", engine, "-o",
                                        str(tmp_path / f"lite-{engine}"), "--json", str(report)])
        assert res.exit_code == 0, res.output
        doc = json.loads(report.read_text())
        assert (doc["engine"], doc["engine_choice"]) == ("xnnpack", None)


def test_upscale_json_dash_prints_instead_of_writing_a_file_named_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(tmp_path / "a.png")
    res = CliRunner().invoke(main, ["upscale", "a.png", "-m", "bicubic", "-o", "out", "--json", "-"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["written"] == [str(Path("out") / "a_x2.png")]
    assert not (tmp_path / "-").exists()
