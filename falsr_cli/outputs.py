"""What a command may write: one output policy, and one lock per run or data folder.

Policy (`claim_output`), for every file or folder any command writes (images, JSON, reports, sidecars):
checked before any work, a command never deletes or replaces what it did not create unless the user gave
`--overwrite`, and even then never the working folder (or a folder holding it), never one of its own
inputs (or a folder holding one, or a file inside one), never anything inside a folder that must stay as
it is (a data set), and never a file or folder that is not recognisably a previous output of the same
kind (`same_kind`: a falsr image's mark, a JSON document's keys, an export's report naming its hash).

Locks (`folder_lock`): an exclusive `flock` on `<folder>/.falsr.lock`, held while the command works on the
folder. The kernel drops it when the process ends, however it ends, so a killed run never leaves a stale
lock; a second process gets a one-line error naming the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from falsr_cli.errors import FalsrError

SameKind = Callable[[Path], bool]

LOCK_NAME = ".falsr.lock"


def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _check_sealed(target: Path, path: str | os.PathLike, sealed: Sequence[str | os.PathLike],
                  flag: str) -> None:
    for kept in sealed:
        if _within(target, _real(kept)) or _within(_real(kept), target):
            raise FalsrError(f"{flag} {path} would write into the data set folder {kept}; give a path "
                             "outside it")


def claim_output(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    folder: bool = False,
    inputs: Sequence[str | os.PathLike] = (),
    same_kind: SameKind | None = None,
    flag: str = "--out",
    sealed: Sequence[str | os.PathLike] = (),
    others: Mapping[str, str | os.PathLike | None] | None = None,
) -> None:
    """Raise FalsrError unless writing `path` (a file, or a folder when `folder`) destroys nothing it may not.

    `inputs` are the paths the command reads; `sealed` are folders nothing may be written into (data
    sets); `others` ({flag: path}) the run's other outputs, which this one must not be nor hold;
    `same_kind(existing)` says whether what is already there is a previous output of this kind — only
    such a file or folder may be replaced, and only with `overwrite`.
    """
    target = _real(path)
    for name, other in (others or {}).items():
        if other is not None and _within(_real(other), target):
            raise FalsrError(f"{flag} {path} is also the output of {name} ({other}); give another path")
    cwd = _real(Path.cwd())
    if _within(cwd, target):
        raise FalsrError(f"{flag} {path} is the working folder or holds it; give a new path")
    for inp in inputs:
        src = _real(inp)
        if _within(src, target):
            what = "the input" if src == target else "a folder holding the input"
            raise FalsrError(f"{flag} {path} is {what} {inp}; give another path")
        if _within(target, src) and os.path.lexists(target):
            raise FalsrError(f"{flag} {path} is a file of the input {inp}; give another path")
    _check_sealed(target, path, sealed, flag)
    if not os.path.lexists(target):
        return
    if folder and not target.is_dir():
        raise FalsrError(f"{flag} {path} is a file; this output is a folder")
    if not folder and target.is_dir():
        raise FalsrError(f"{flag} {path} is a folder; this output is a file")
    if not overwrite:
        what = "a folder" if target.is_dir() else "a file"
        raise FalsrError(f"{flag} {path} exists ({what}); give --overwrite to replace it, or another path")
    if same_kind is None or not same_kind(target):
        what = "holds files that are" if target.is_dir() else "is"
        raise FalsrError(f"{flag} {path} {what} not a previous output of this kind (falsr did not write "
                         "it), so it is never replaced; give another path")


def claim_folder(
    path: str | os.PathLike,
    *,
    inputs: Sequence[str | os.PathLike] = (),
    sealed: Sequence[str | os.PathLike] = (),
    flag: str = "--out",
) -> None:
    """Raise FalsrError unless `path` may receive new outputs (each file then claimed on its own): not a
    file, not an input nor a folder holding one (a run would write beside, then over, its own inputs),
    not inside or around a sealed (data set) folder. An existing folder, even the working one, is fine."""
    target = _real(path)
    if os.path.lexists(target) and not target.is_dir():
        raise FalsrError(f"{flag} {path} is a file; this output is a folder")
    for inp in inputs:
        if _within(_real(inp), target):
            what = "the input" if _real(inp) == target else "a folder holding the input"
            raise FalsrError(f"{flag} {path} is {what} {inp}; give another folder")
    _check_sealed(target, path, sealed, flag)


def json_kind(*keys: str) -> SameKind:
    """`same_kind` of a JSON output: an object with all `keys` at its top level, as falsr writes it."""
    def check(path: Path) -> bool:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.loads(f.read(1 << 24))
        except (OSError, ValueError, RecursionError):
            return False
        return isinstance(doc, dict) and all(k in doc for k in keys)

    return check


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder",
                lock_file: str | os.PathLike | None = None, reading: bool = False) -> Iterator[Path]:
    """Hold the exclusive lock of `folder` (created if needed) for the block; FalsrError if it is taken.

    The lock is `<folder>/.falsr.lock`, or `lock_file` for folders whose listing must stay exactly their
    files (data sets). `reading`: the command only reads the folder, so a folder nobody can write (a
    read-only mount) is read without a lock — no process can be changing it.
    """
    folder = Path(folder)
    if not reading:
        folder.mkdir(parents=True, exist_ok=True)
    lock = Path(lock_file) if lock_file is not None else folder / LOCK_NAME
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not reading:
            raise
        yield folder
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise FalsrError(f"{folder} is in use by another falsr process (pid {other}, {what}); wait for "
                             "it to finish or use another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing drops the lock
