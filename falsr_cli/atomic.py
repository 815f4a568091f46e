"""Atomic file writes: write a sibling temporary file, fsync, then rename over the target.

A crash or a full disk mid-write leaves the previous file intact, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from falsr_cli import interrupts

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed onto `target`.

    `suffix` keeps the extension for writers that look at it (e.g. PIL, Keras `.weights.h5`).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
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
            import shutil

            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


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
    from falsr_cli.errors import FalsrError

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
