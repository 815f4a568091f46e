"""Atomic file writes: write a sibling temporary file, fsync, then rename over the target.

A crash or a full disk mid-write leaves the previous file intact, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from falsr_cli import interrupts
from falsr_cli.errors import FalsrError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "", tail: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed onto `target`.

    `suffix` keeps the extension for writers that look at it (e.g. PIL, Keras `.weights.h5`); `tail` ends
    the name (`.tmp`; a writer that insists on its extension as the very end, as Keras's `.keras`, gets it).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + tail, dir=target.parent)
    os.close(fd)
    # mkstemp makes 0600 files; give the result the permissions a plain open() would.
    os.chmod(tmp, 0o666 & ~_UMASK)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
        interrupts.check()  # an interrupt swallowed on the way (e.g. by a converter) still stops here
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file or a folder (its entries) to disk; a file system that cannot is left as it is."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | os.PathLike, prefix: str | None = None, create: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling folder that replaces `target` (file or folder) only if the block succeeds.

    Its files are fsynced before the rename; an existing target is swapped out by two renames, so the old
    one survives until the new one is complete. `prefix` names the temporary folder (default
    `.<target name>.`); `create=False` leaves it to the writer to make (tf.saved_model.save).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix or f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)  # as a plain mkdir would (mkdtemp makes 0700)
    if not create:
        tmp.rmdir()
    try:
        yield tmp
        for folder, _, files in os.walk(tmp):
            for name in files:
                fsync_path(Path(folder) / name)
            fsync_path(folder)
        interrupts.check()  # a swallowed interrupt stops here, before anything is renamed into place
        if target.exists():
            old = tmp.with_name(f"{tmp.name}.old")
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
        fsync_path(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)  # also on an interrupt: no hidden half folder left


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Pretty JSON; paths and other non-JSON leaves are written as their str()."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(target: str | os.PathLike) -> Any:
    """A JSON file's content; a file that is not JSON text is a one-line FalsrError, not a traceback."""
    try:
        return json.loads(Path(target).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FalsrError(f"{target}: not valid JSON ({e})") from None
    except UnicodeDecodeError:
        raise FalsrError(f"{target}: not a text (JSON) file") from None
    except RecursionError:
        raise FalsrError(f"{target}: JSON nested too deeply to be an architecture or result file") from None


def append_jsonl(target: str | os.PathLike, record: dict) -> None:
    """Append one JSON line and fsync; a torn last line is skipped by `read_jsonl`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(target: str | os.PathLike) -> list[dict]:
    """Read a JSON-lines file, ignoring a last line torn by a crash."""
    target = Path(target)
    if not target.exists():
        return []
    out = []
    for line in target.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
