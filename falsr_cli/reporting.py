"""Progress without a terminal: a long operation takes a bar factory (the CLI passes console.progress) or
None, so that only `cli/` decides what is drawn."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

BarFactory = Callable[..., AbstractContextManager[Any]]  # console.progress: (**columns) → a rich Progress
ByteReport = Callable[[str, int, "int | None"], None]  # a download's (description, bytes done, total)


class NoBar:
    """Stands in for a progress bar when none is drawn."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: object, **kwargs: object) -> int:
        return 0

    def update(self, *args: object, **kwargs: object) -> None:
        return None

    def advance(self, *args: object, **kwargs: object) -> None:
        return None


def bar(progress: BarFactory | None, **kwargs: Any) -> AbstractContextManager[Any]:
    """`progress(**kwargs)`, or a NoBar when there is no factory."""
    return progress(**kwargs) if progress else NoBar()
