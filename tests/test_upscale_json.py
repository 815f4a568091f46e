"""`falsr upscale --json` records what was written and what failed, and still exits 1 on a bad file."""

from __future__ import annotations

import json

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
