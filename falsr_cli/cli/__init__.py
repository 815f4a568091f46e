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

import contextlib  # noqa: E402
import importlib  # noqa: E402
from collections.abc import Collection, Iterator  # noqa: E402

import click  # noqa: E402

from falsr_cli import __version__  # noqa: E402
from falsr_cli.errors import FalsrError  # noqa: E402

# Command name → ("module:attribute", its one-line help). A module is imported only when its command runs
# (or its own --help is asked): `falsr --help` lists the commands from this table, so it imports nothing
# but click. The help lines equal the commands' own first docstring lines (a test checks it).
COMMANDS: dict[str, tuple[str, str]] = {
    "arch": ("falsr_cli.cli.arch:arch_group",
             "Inspect architectures: presets (FALSR-A/B/C), arch .json files, pareto.json#K, published .pb "
             "graphs."),
    "calculate": ("falsr_cli.cli.evaluate:calculate_cmd",
                  "Run a FALSR frozen graph over data sets as the original calculate.py: SR images, "
                  "PSNR/SSIM table."),
    "dataset": ("falsr_cli.cli.data:dataset", "List, fetch, check and locate the data sets."),
    "demo": ("falsr_cli.cli.demo:demo_cmd",
             "Search, train, export and evaluate on the built-in `samples` images: offline, a few "
             "minutes."),
    "evaluate": ("falsr_cli.cli.evaluate:evaluate_cmd",
                 "Score a model on a data set: average PSNR/SSIM (Y, BT.601, border = scale), images/s, "
                 "time."),
    "export": ("falsr_cli.cli.export:export_cmd",
               "Export a model to a deployable file; the export is checked against the Keras model."),
    "flops": ("falsr_cli.cli.arch:flops_cmd",
              "Mult-adds (multiply-accumulates) and parameters of an architecture for one LR input."),
    "latency": ("falsr_cli.cli.latency:latency_group",
                "Latency on this machine: measure a network (MODEL or ARCH), or profile the latency model."),
    "model": ("falsr_cli.cli.model:model_group",
              "List, fetch and locate models by name: the authors' FALSR-A/B/C and the ones falsr ships; "
              "model cards and the README's results."),
    "search": ("falsr_cli.cli.search:search_cmd",
               "Search the FALSR space for the Pareto front of PSNR, mult-adds and params (NSGA-II + RL)."),
    "train": ("falsr_cli.cli.train:train_cmd",
              "Train an architecture on luma (Adam, L1 loss), validating on held-out images and "
              "checkpointing."),
    "upscale": ("falsr_cli.cli.export:upscale_cmd",
                "Upscale photos: luma through the network, chroma and alpha bicubic, tile by tile."),
}


@contextlib.contextmanager
def naming_options(fields: Collection[str]) -> Iterator[None]:
    """An API error that starts with a config field's name ("batch: …") names the option the user typed
    instead ("--batch: …")."""
    try:
        yield
    except FalsrError as e:
        name, sep, rest = str(e).partition(": ")
        if sep and name in fields:
            raise FalsrError(f"--{name.replace('_', '-')}: {rest}") from None
        raise


class FalsrGroup(click.Group):
    """A click group that loads its commands lazily and turns expected failures into one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            module, attr = COMMANDS[name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the table: listing the commands must not import them.
        limit = formatter.width - 6 - max(len(n) for n in COMMANDS)
        rows = [(name, click.utils.make_default_short_help(COMMANDS[name][1], limit))
                for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        from falsr_cli import interrupts

        interrupts.install()
        try:
            value = super().invoke(ctx)
            interrupts.check()  # a signal whose exception a library swallowed: still an interrupted run
            return value
        except click.UsageError as e:
            # One line, not click's three: the message and where to read more.
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            click.echo(f"error: {e.format_message()}{where}", err=True)
            sys.exit(e.exit_code)
        except FalsrError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt as e:
            signum = interrupts.pending() or getattr(e, "signum", 2)
            click.echo(f"interrupted ({'SIGTERM' if signum == 15 else 'SIGINT'})", err=True)
            sys.exit(128 + signum)
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
      falsr model download FALSR-A --to ./pretrained_model
      falsr calculate --pb_path ./pretrained_model/FALSR-A.pb --save_path ./result/
      falsr evaluate --dataset Set5 --model bicubic
      falsr arch show FALSR-A
      falsr search --preset demo --out runs/demo
    """
