"""`falsr arch show`, `falsr arch from-pb`, `falsr flops`: output, JSON, and one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.space.architecture import PRESETS, Architecture


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_arch_show_prints_cells_sources_and_costs():
    r = _run("arch", "show", "FALSR-A", "--input", "240x320")
    assert r.exit_code == 0, r.output
    for text in (
        "CB7",
        "conv_f64_k1_b4_noskip",
        "1,021,401",
        "235,000,627,200",
        "at 240x320",
    ):
        assert text in r.output, text


def test_arch_show_json_and_flops_agree():
    r = _run("arch", "show", "FALSR-B", "--json", "--input", "100x50")
    s = json.loads(r.output)
    assert s["params"] == 324_745
    assert s["mult_adds"]["480x480"] == 74_502_144_000
    assert [n["node"] for n in s["nodes"]] == ["FE"] + [f"CB{i}" for i in range(1, 8)] + ["upsampler"]
    assert s["nodes"][-1]["sources"] == ["CB1", "CB4", "CB6", "CB7"]
    assert sum(n["params"] for n in s["nodes"]) == s["params"]
    assert sum(n["mult_adds_480x480"] for n in s["nodes"]) == s["mult_adds"]["480x480"]
    assert Architecture.from_dict(s["architecture"]) == PRESETS["FALSR-B"]
    f = json.loads(_run("flops", "FALSR-B", "--input", "100x50", "--json").output)
    assert f["mult_adds"] == s["mult_adds"]["100x50"] and f["params"] == s["params"]
    assert "74.5G" in _run("flops", "FALSR-B").output


def test_arch_from_pb_writes_the_architecture(tmp_path, reference_dir):
    out = tmp_path / "c.json"
    r = _run("arch", "from-pb", str(reference_dir / "FALSR-C.pb"), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert Architecture.load(out) == PRESETS["FALSR-C"]
    assert _run("flops", str(out), "--json").output == _run("flops", str(out), "--json").output
    assert json.loads(_run("flops", str(out), "--json").output)["params"] == 426_569


def _write(tmp_path, d) -> str:
    p = tmp_path / "arch.json"
    p.write_text(json.dumps(d) if not isinstance(d, str) else d)
    return str(p)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["cells"][2].update(type="resnet"), "cells[2].type: unknown cell type 'resnet'"),
        (lambda d: d["cells"][0].update(filters=20), "cells[0].filters: 20 is not in the space"),
        (lambda d: d.update(connections=d["connections"][:-1]), "connections: 27 bits given"),
        (
            lambda d: d.update(features=6, scale=3, cells=["group4_f16_k1_b1_noskip"], connections=[0]),
            "cells[0]: group4 needs input channels divisible by 4",
        ),
        (lambda d: d.pop("cells"), "cells: missing"),
    ],
)
def test_malformed_architecture_file_is_a_one_line_error(tmp_path, mutate, message):
    d = PRESETS["FALSR-A"].to_dict()
    mutate(d)
    path = _write(tmp_path, d)
    for args in (("arch", "show", path), ("flops", path)):
        r = CliRunner().invoke(main, list(args))
        assert r.exit_code == 1
        assert r.output.count("\n") == 1 and r.output.startswith("error: ") and message in r.output, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)


def test_other_bad_inputs(tmp_path):
    for args, message in (
        (("flops", "FALSR-A", "--input", "480by480"), "--input '480by480'"),
        (("arch", "show", _write(tmp_path, "{not json")), "not valid JSON"),
        (("arch", "show", "NOPE"), "not a preset"),
        (("arch", "from-pb", str(tmp_path / "missing.pb")), "not found"),
    ):
        r = CliRunner().invoke(main, list(args))
        assert r.exit_code == 1 and r.output.startswith("error: ") and message in r.output, r.output
