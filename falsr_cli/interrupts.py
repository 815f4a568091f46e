"""Interrupts: Ctrl-C (SIGINT) and SIGTERM end every command the same way, at any moment.

The CLI installs `install()`: either signal raises `Interrupted` (a KeyboardInterrupt) in the main thread,
so every `atomic_path` and temporary folder on the way out is removed, and the command exits 130 or 143
with one line. The signal is also remembered: a library can swallow the exception (a catch-all, a
`__del__`, a converter's thread), so `check()` — called before an atomic write renames its file into
place — raises it again, and the CLI ends interrupted even when the work ran on to its end.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

_received: int | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `status` is the exit status it gives (128 + the signal's number)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum


def _handler(signum: int, _frame: Any) -> None:
    global _received
    _received = signum
    raise Interrupted(signum)


def _unraisable(hook: Any) -> Any:
    def quiet(unraisable: Any) -> None:
        # Raised inside a __del__ or a callback, Python would print a traceback and carry on: the signal
        # is remembered instead (check() raises it again), and nothing is printed.
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        hook(unraisable)

    return quiet


def install() -> None:
    """Make SIGINT and SIGTERM raise Interrupted in the main thread (a no-op elsewhere)."""
    global _received
    _received = None
    try:
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread (an embedding application): leave its handlers alone
        return
    if not getattr(sys.unraisablehook, "_falsr", False):
        sys.unraisablehook = _unraisable(sys.unraisablehook)
        sys.unraisablehook._falsr = True  # type: ignore[attr-defined]


def pending() -> int | None:
    """The signal received since `install()`, if any."""
    return _received


def check() -> None:
    """Raise Interrupted if a signal arrived, even one whose exception was swallowed on its way."""
    if _received is not None:
        raise Interrupted(_received)
