"""The `falsr` command line: a thin layer of click commands over the Python API.

Each command parses options, calls the API, and prints. Every FalsrError (and any other failure of the
user's input) becomes a one-line `error: …` and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

from falsr_cli import __version__  # noqa: E402
from falsr_cli.errors import FalsrError  # noqa: E402


class FalsrGroup(click.Group):
    """A click group that turns expected failures into one-line errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FalsrError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as e:
            click.echo(f"error: {e.strerror or e}{': ' + str(e.filename) if e.filename else ''}", err=True)
            sys.exit(1)


@click.group(cls=FalsrGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


# ---- commands are added below, one section per area --------------------------------------------

# ---- [data] dataset list/download/verify/path --------------------------------------------------
# (end data)

# ---- [evaluation] evaluate, calculate ----------------------------------------------------------
# (end evaluation)

# ---- [architecture] arch show/from-pb, flops ---------------------------------------------------
# (end architecture)

# ---- [train] train -----------------------------------------------------------------------------
# (end train)

# ---- [search] search, search show --------------------------------------------------------------
# (end search)

# ---- [export] export, upscale ------------------------------------------------------------------
# (end export)
