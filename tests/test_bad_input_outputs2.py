"""One output policy for every output (issue 23, class 1): inputs of the same run, a user's files and data
set folders are never written over — checked before any work. Each case: exit status, one line, and the
work folder byte-identical before and after."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_input import one_line_error, snapshot
from click.testing import CliRunner
from PIL import Image

from falsr_cli.cli import main


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / name)
    return folder


def test_upscale_json_and_out_never_replace_an_input_or_a_users_image(tmp_path, photos, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "up").mkdir()
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(tmp_path / "up" / "a_x2.png")  # the user's own
    before = snapshot(tmp_path)
    runner = CliRunner()
    up = ["upscale", str(photos / "a.png"), "-m", "bicubic"]
    refused = [
        ([*up, "--out", "up2", "--json", str(photos / "a.png")], "--json", "is the input"),
        ([*up, "--out", "up2", "--json", str(photos / "a.png"), "--overwrite"], "--json", "is the input"),
        (["upscale", str(photos), "-m", "bicubic", "--out", str(photos)], "--out", "holding the input"),
        ([*up, "--out", str(photos), "--overwrite"], "--out", "a folder holding the input"),
        ([*up, "--out", str(tmp_path), "--overwrite"], "--out", "a folder holding the input"),
    ]
    for args, flag, message in refused:
        line = one_line_error(runner.invoke(main, args))
        assert line.startswith(f"error: {flag} ") and message in line, (args, line)
    # --overwrite replaces a previous output, never a user's image that has an output's name.
    mine = runner.invoke(main, [*up, "--out", "up", "--overwrite"])
    assert mine.exit_code == 1 and "is not an image falsr wrote" in mine.stderr
    assert snapshot(tmp_path) == before and not (tmp_path / "up2").exists()
    first = runner.invoke(main, [*up, "--out", "new"])
    again = runner.invoke(main, [*up, "--out", "new", "--overwrite", "--json", "new.json"])
    assert first.exit_code == 0 and again.exit_code == 0, again.output
    assert json.loads((tmp_path / "new.json").read_text())["written"] == ["new/a_x2.png"]


def test_export_overwrite_spares_a_users_file_and_a_sidecar_it_did_not_write(tmp_path, monkeypatch):
    from export_models import shared_tiny

    arch, model = shared_tiny()
    weights = tmp_path / "w" / "tiny.weights.h5"
    weights.parent.mkdir()
    model.save_weights(weights)
    work = tmp_path / "work"
    work.mkdir()
    (work / "model.pb").write_bytes(b"my own graph")
    (work / "other.pb.json").write_text('{"my": "notes"}')
    (work / "mine.json").write_text("{}")
    before = snapshot(work)
    monkeypatch.chdir(work)
    runner = CliRunner()
    base = ["export", arch.to_text(), "--weights", str(weights), "--format", "pb", "--overwrite"]
    line = one_line_error(runner.invoke(main, [*base, "--out", "model.pb"]))
    assert "--out model.pb is not a previous output of this kind" in line
    line = one_line_error(runner.invoke(main, [*base, "--out", "other.pb"]))
    assert "--out other.pb: its report other.pb.json is not a previous output" in line
    line = one_line_error(runner.invoke(main, [*base, "--out", "mine", "--format", "savedmodel"]))
    assert "--out mine: its report mine.json is not a previous output" in line
    assert snapshot(work) == before
    # A previous export is one its report names with its hash (tests/test_bad_input_outputs.py replaces
    # one); once the user has written over it by hand, it no longer is.
    assert runner.invoke(main, [*base, "--out", "new.pb"]).exit_code == 0
    (work / "new.pb").write_bytes(b"edited by the user since")
    assert "not a previous output" in one_line_error(runner.invoke(main, [*base, "--out", "new.pb"]))
    assert (work / "new.pb").read_bytes() == b"edited by the user since"


def test_calculate_evaluate_and_demo_never_write_into_a_data_set_or_a_users_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "pairs"
    data.mkdir()
    hr = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(hr).save(data / "img_001_SRF_2_HR.png")
    Image.fromarray(hr[::2, ::2]).save(data / "img_001_SRF_2_LR.png")
    (tmp_path / "g.pb").write_bytes(b"never loaded: the outputs are refused first")
    nested = tmp_path / "res" / "g" / "pairs"  # where calculate --save_path res would put its images
    nested.mkdir(parents=True)
    for f in data.iterdir():
        (nested / f.name).write_bytes(f.read_bytes())
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "thesis.txt").write_text("mine")
    demo2 = tmp_path / "demo2"
    demo2.mkdir()
    (demo2 / "demo.json").write_text('{"my": "numbers"}')
    before = snapshot(tmp_path)
    runner = CliRunner()
    cases = [
        (["calculate", "--pb_path", "g.pb", "--dataset", str(data), "--save_path", str(data)],
         "--save_path", "would write into the data set folder"),
        (["calculate", "--pb_path", "g.pb", "--dataset", str(nested), "--save_path", "res"],
         "--save_path", "would write into the data set folder"),  # res/g/pairs is the data set
        (["evaluate", "-m", "bicubic", "-d", str(data), "--save", str(data / "sr")],
         "--save", "would write into the data set folder"),
        (["evaluate", "-m", "bicubic", "-d", str(data), "--json", str(data / "s.json")],
         "--json", "would write into the data set folder"),
        (["demo", "--out", str(demo)], "--out", "not a previous output of this kind"),
        (["demo", "--out", str(demo2)], "--out", "demo.json is not a previous output"),
        (["demo", "--out", "."], "--out", "is the working folder"),
    ]
    for args, flag, message in cases:
        line = one_line_error(runner.invoke(main, args))
        assert line.startswith(f"error: {flag} ") and message in line, (args, line)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "g").exists()
