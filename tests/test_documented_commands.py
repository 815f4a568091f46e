"""Every command line that `--help` or the README shows is a valid command line of today's falsr.

Each example is parsed by the real command (click's own parser, options, choices and types), without
running it: an option renamed or removed, a choice that is gone, a command that no longer exists fails
here. Running them is the job of the tests of each command; this keeps the documentation from drifting.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from falsr_cli.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def _help_examples() -> list[str]:
    """The `falsr …` lines of every command's and subcommand's help text."""
    lines: list[str] = []
    ctx = click.Context(main)

    def walk(cmd: click.Command) -> None:
        for line in (cmd.help or "").splitlines():
            line = _shell_words(line.strip())
            if line.startswith("falsr ") or re.match(r"^[A-Z_]+=\S+ falsr ", line):
                lines.append(line)
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name))

    walk(main)
    return lines


def _shell_words(line: str) -> str:
    """The falsr part of a shell line: before a pipe, a redirection or a comment; '' with a $(…)."""
    if "$(" in line:
        return ""
    return re.split(r"\s(?:\||>|#)\s?", line)[0].strip()


def _readme_examples() -> list[str]:
    """`$ falsr …` lines of the README's console blocks, and the falsr lines of its sh blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for lang, block in re.findall(r"```(sh|)\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if lang == "" and not line.startswith("$ "):
                continue  # program output
            line = _shell_words(line.removeprefix("$ "))
            if line.startswith("falsr "):
                out.append(line)
    return out


def _parse(line: str) -> None:
    words = shlex.split(line)
    while "=" in words[0] and not words[0].startswith("falsr"):
        words = words[1:]  # VAR=value prefixes
    assert words[0] == "falsr"
    args = words[1:]
    ctx = main.make_context("falsr", list(args), resilient_parsing=False)
    cmd_ctx = ctx
    # Descend into groups as click would, parsing each level's own options.
    while isinstance(cmd_ctx.command, click.Group) and cmd_ctx.protected_args:
        name, *rest = [*cmd_ctx.protected_args, *cmd_ctx.args]
        sub = cmd_ctx.command.get_command(cmd_ctx, name)
        assert sub is not None, f"{line}: no command {name!r}"
        # A group with a default subcommand (falsr latency MODEL) inserts it in its own parse_args.
        cmd_ctx = sub.make_context(name, list(rest), parent=cmd_ctx)


EXAMPLES = sorted(set(_help_examples())) + sorted(set(_readme_examples()))


def test_there_are_examples_for_every_command() -> None:
    shown = {shlex.split(line.split("falsr ", 1)[1])[0] for line in EXAMPLES if line.split("falsr ", 1)[1]}
    assert set(COMMANDS) <= shown, set(COMMANDS) - shown


@pytest.mark.parametrize("line", EXAMPLES)
def test_documented_command_line_parses(line: str) -> None:
    try:
        _parse(line)
    except click.exceptions.Exit:
        pass  # --help / --version
    except click.UsageError as e:
        pytest.fail(f"{line!r}: {e.format_message()}")
