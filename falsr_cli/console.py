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


def progress(*extra_columns, transient: bool = False, disable: bool = False, **text_columns: str) -> Progress:
    """A progress bar with description, bar, n/total, elapsed and ETA, plus any extra columns.

    `text_columns` are rich text templates (`loss="loss {task.fields[loss]}"`): callers outside the CLI
    describe their columns without building rich objects.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        *(TextColumn(template) for template in text_columns.values()),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=disable,
    )
