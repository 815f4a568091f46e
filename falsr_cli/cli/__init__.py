"""The `falsr` command line: a thin layer of click commands over the Python API, one module per area.

Each command parses options, calls the API, and prints. Every FalsrError (and any other failure of the
user's input) becomes a one-line `error: …` and exit status 1, never a traceback. Commands are loaded
when they are used (click's lazy-group pattern), so `falsr --help` imports no command's dependencies.
"""

from __future__ import annotations

import os
import sys

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib  # noqa: E402

import click  # noqa: E402

from falsr_cli import __version__  # noqa: E402
from falsr_cli.errors import FalsrError  # noqa: E402

# Command name → "module:attribute"; each module is imported when its command is used or listed.
COMMANDS = {
    "arch": "falsr_cli.cli.arch:arch_group",
    "calculate": "falsr_cli.cli.evaluate:calculate_cmd",
    "dataset": "falsr_cli.cli.data:dataset",
    "demo": "falsr_cli.cli.demo:demo_cmd",
    "evaluate": "falsr_cli.cli.evaluate:evaluate_cmd",
    "export": "falsr_cli.cli.export:export_cmd",
    "flops": "falsr_cli.cli.arch:flops_cmd",
    "search": "falsr_cli.cli.search:search_cmd",
    "train": "falsr_cli.cli.train:train_cmd",
    "upscale": "falsr_cli.cli.export:upscale_cmd",
}


class FalsrGroup(click.Group):
    """A click group that loads its commands lazily and turns expected failures into one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            module, attr = COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            # One line, not click's three: the message and where to read more.
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            click.echo(f"error: {e.format_message()}{where}", err=True)
            sys.exit(e.exit_code)
        except FalsrError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as e:
            click.echo(f"error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", err=True)
            sys.exit(1)


@click.group(
    cls=FalsrGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="falsr")
def main() -> None:
    """Find, train, evaluate and ship fast, accurate and lightweight super-resolution networks.

    \b
    Examples:
      falsr calculate --pb_path ./pretrained_model/FALSR-A.pb --save_path ./result/
      falsr evaluate --dataset Set5 --model bicubic
      falsr arch show FALSR-A
      falsr search --preset demo --out runs/demo
    """
