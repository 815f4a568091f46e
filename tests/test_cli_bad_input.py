"""Bad input found in review: each is one line on stderr and exit 1, never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.cost.summary import parse_hw
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import Architecture, load_architecture
from falsr_cli.space.cells import Cell
from falsr_cli.train.config import TrainConfig


@pytest.mark.parametrize("text", ["10xx", "10x", "x10", "10xx10", "0x5", "axb"])
def test_malformed_sizes_are_refused(text):
    with pytest.raises(FalsrError, match="HxW"):
        parse_hw(text)


@pytest.mark.parametrize("text,hw", [("480x360", (480, 360)), ("480×360", (480, 360)), ("64", (64, 64))])
def test_documented_sizes_parse(text, hw):
    assert parse_hw(text) == hw


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_corrupt_model_file_in_a_run_is_one_line(tmp_path):
    arch = Architecture(cells=(Cell("conv", 16, 1, 1, False),), connections=(0,))
    arch.save(tmp_path / "arch.json")
    (tmp_path / "config.json").write_text(
        json.dumps(TrainConfig(arch=str(tmp_path / "arch.json"), out=str(tmp_path)).to_dict()))
    (tmp_path / "model.keras").write_bytes(b"garbage")
    out = tmp_path / "x.pb"
    res = CliRunner().invoke(main, ["export", str(tmp_path), "--format", "pb", "--out", str(out)])
    assert "model.keras" in _one_line_error(res)
    assert not out.exists()


def test_pareto_member_of_an_empty_front(tmp_path):
    (tmp_path / "pareto.json").write_text(json.dumps({"front": []}))
    with pytest.raises(FalsrError, match="empty"):
        load_architecture(f"{tmp_path / 'pareto.json'}#0")


def test_the_command_table_lists_every_command_with_its_own_help_without_importing_it():
    import subprocess
    import sys

    import click

    from falsr_cli.cli import COMMANDS

    ctx = click.Context(main)
    for name, (_, text) in COMMANDS.items():
        assert main.get_command(ctx, name).get_short_help_str(limit=300) == text, name
    # `falsr --help` imports no command module (nor TensorFlow).
    code = ("import sys; from click.testing import CliRunner; from falsr_cli.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0 and 'upscale' in r.output; "
            "print(sorted(m for m in sys.modules if m.startswith(('falsr_cli.cli.', 'tensorflow'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
