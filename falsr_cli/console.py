"""Terminal output: one rich console for tables and a progress-bar factory."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console()
# Progress bars and notes go to stderr so that stdout stays clean for tables and piped JSON.
err_console = Console(stderr=True)


def progress(*extra_columns, transient: bool = False, disable: bool = False) -> Progress:
    """A progress bar with description, bar, n/total, elapsed and ETA, plus any extra columns."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=disable,
    )
