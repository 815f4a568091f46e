"""Checkpoints of a run: `checkpoints/step_NNNNNNNNN/{ckpt.index, ckpt.data-*, meta.json}`.

Each is written whole into a hidden temporary folder, synced, then renamed into place, so a crash or a full
disk mid-write leaves the earlier checkpoints untouched and never a half checkpoint under a real name.
The last `keep` checkpoints are kept, plus the one with the best validation PSNR.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from falsr_cli.atomic import atomic_dir
from falsr_cli.errors import FalsrError
from falsr_cli.models.weights import restore_into

if TYPE_CHECKING:
    import tensorflow as tf

PREFIX = "ckpt"
META = "meta.json"
_NAME_RE = re.compile(r"^step_(\d{9})$")


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    step: int
    meta: dict[str, Any]

    @property
    def prefix(self) -> str:
        """The TF checkpoint prefix (what `tf.train.Checkpoint.read` takes)."""
        return str(self.path / PREFIX)

    @property
    def val_psnr(self) -> float | None:
        v = self.meta.get("val_psnr")
        return float(v) if isinstance(v, int | float) else None


def read_checkpoint_info(path: Path) -> CheckpointInfo | None:
    """A complete checkpoint folder's info, or None if it is not one (partial, foreign, damaged meta)."""
    m = _NAME_RE.match(path.name)
    if not m or not path.is_dir() or not (path / f"{PREFIX}.index").is_file():
        return None
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    return CheckpointInfo(path, int(m.group(1)), meta)


def list_checkpoints(directory: str | os.PathLike) -> list[CheckpointInfo]:
    """Complete checkpoints in `directory`, by step."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [read_checkpoint_info(p) for p in directory.iterdir()]
    return sorted((c for c in found if c is not None), key=lambda c: c.step)


def best_checkpoint(checkpoints: list[CheckpointInfo]) -> CheckpointInfo | None:
    """The checkpoint with the highest validation PSNR (the earliest on ties), if any was validated."""
    scored = [c for c in checkpoints if c.val_psnr is not None]
    return max(scored, key=lambda c: (c.val_psnr, -c.step)) if scored else None


class CheckpointManager:
    """Atomic save, listing, restore and pruning of one run's checkpoints."""

    def __init__(self, directory: str | os.PathLike, checkpoint: tf.train.Checkpoint, keep: int = 3) -> None:
        self.directory = Path(directory)
        self.checkpoint = checkpoint
        self.keep = max(1, int(keep))

    def list(self) -> list[CheckpointInfo]:
        return list_checkpoints(self.directory)

    def latest(self) -> CheckpointInfo | None:
        found = self.list()
        return found[-1] if found else None

    def best(self) -> CheckpointInfo | None:
        return best_checkpoint(self.list())

    def clean_partial(self) -> None:
        """Remove temporary folders left by a run killed mid-save."""
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if p.name.startswith(".tmp-"):
                    shutil.rmtree(p, ignore_errors=True)

    def save(self, step: int, meta: dict[str, Any]) -> CheckpointInfo:
        """Write the checkpoint of `step` atomically; on failure nothing changes and FalsrError says why."""
        import tensorflow as tf

        name = f"step_{int(step):09d}"
        final = self.directory / name
        try:
            # `.tmp-…`: a folder left by a crash is swept when the manager starts. The same step saved again
            # (a resumed run re-validating) swaps the old one out only once the new one is complete.
            with atomic_dir(final, prefix=f".tmp-{name}-") as tmp:
                self.checkpoint.write(str(tmp / PREFIX))
                text = json.dumps({"step": int(step), **meta}, indent=2) + "\n"
                (tmp / META).write_text(text, encoding="utf-8")
        except BaseException as e:
            if not isinstance(e, OSError | tf.errors.OpError):
                raise
            previous = self.latest()
            kept = (f"checkpoint {previous.path} (step {previous.step}) is intact" if previous
                    else "no earlier checkpoint")
            raise FalsrError(f"could not write the checkpoint of step {step} ({_reason(e)}); {kept}") \
                from None
        info = read_checkpoint_info(final)
        assert info is not None
        return info

    def prune(self) -> list[Path]:
        """Delete all but the last `keep` checkpoints and the best one; return what was deleted."""
        found = self.list()
        keep = {c.path for c in found[-self.keep:]}
        best = best_checkpoint(found)
        if best is not None:
            keep.add(best.path)
        removed = [c.path for c in found if c.path not in keep]
        for path in removed:
            self._delete(path)
        return removed

    def clear(self) -> None:
        """Delete every checkpoint (a run that starts again from step 0)."""
        for c in self.list():
            self._delete(c.path)

    def _delete(self, path: Path) -> None:
        # Rename first so a crash mid-delete never leaves a half checkpoint under a real name.
        doomed = self.directory / f".tmp-del-{path.name}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def restore(self, info: CheckpointInfo) -> None:
        """Restore everything the checkpoint object tracks (model, optimizer, step)."""
        restore_into(self.checkpoint, info.prefix)


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError):
        if e.errno == errno.ENOSPC:
            return "no space left on device"
        return e.strerror or str(e)
    text = getattr(e, "message", None) or str(e)
    return text.splitlines()[0][:200] if text else type(e).__name__
