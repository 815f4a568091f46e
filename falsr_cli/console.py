"""Terminal output: one rich console for tables and a progress-bar factory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from falsr_cli.reporting import ByteReport


def _console(stderr: bool = False) -> Console:
    """A terminal gets rich's layout; a pipe or file gets whole lines (no hard wrap at 80 columns), so
    `falsr arch show FALSR-B | grep text:` returns the whole architecture text and paths stay whole."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=4096)


console = _console()
# Progress bars and notes go to stderr so that stdout stays clean for tables and piped JSON.
err_console = _console(stderr=True)


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


@contextmanager
def byte_progress() -> Iterator[ByteReport]:
    """A download's bar on stderr (bytes and speed instead of item counts: files differ a lot in size),
    driven by its (description, bytes done, total) reports; drawn from the first report on."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn(), console=err_console)
    tasks: list[int] = []

    def report(what: str, done: int, total: int | None) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task(what, total=total))
        bar.update(tasks[0], description=what, completed=done, total=total)

    try:
        yield report
    finally:
        if tasks:
            bar.stop()
