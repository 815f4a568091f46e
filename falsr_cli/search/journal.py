"""The run folder of a search: config, the append-only evaluations journal, per-generation snapshots.

    DIR/config.json            the resolved SearchConfig (atomic)
    DIR/evaluations.jsonl      one line per finished evaluation, appended and fsynced as each arrives:
                               hash, generation, genome, text, operator, status (ok | skipped_cost |
                               failed), psnr, ssim, loss, mult_adds, params, objectives, constraints,
                               train/eval/wall seconds, worker, attempts, reason; under successive
                               halving also the rung it reached, its steps, rung_psnr (the raw PSNR
                               of every rung), psnr_gain (added to put it on the top rung's scale)
                               and gain_pairs, and before it one record of kind "rung" per rung
                               trained: hash, generation, rung, steps and that training's results
    DIR/state/gen_NNNN/        the search after generation NNNN, written as a whole (a temporary folder
                               renamed into place): state.json (the algorithm's population with its
                               objectives, constraints, ranks and crowding distances, its generator's
                               state, the history rows) and controller.npz (weights, optimizer moments,
                               baseline)

A search killed at any moment restarts from the newest complete snapshot; the generations after it are
asked again (the restored generator gives the same offspring) and every evaluation already in the journal
— under successive halving every finished rung training too — is taken from it instead of being trained
again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from falsr_cli.atomic import append_jsonl, atomic_dir, read_jsonl, write_json
from falsr_cli.errors import FalsrError
from falsr_cli.search.config import SearchConfig
from falsr_cli.search.problem import FAILED, OK, SKIPPED

if TYPE_CHECKING:
    from falsr_cli.search.controller import Controller

KEEP_SNAPSHOTS = 3
RUNG = "rung"  # the `kind` of a rung record (successive halving, fidelity.py); candidates have no kind


class Journal:
    """Reads and writes one search's run folder."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.config_path = self.out / "config.json"
        self.evaluations_path = self.out / "evaluations.jsonl"
        self.state_dir = self.out / "state"
        self._seq: int | None = None

    # ---- config --------------------------------------------------------------------------------------

    def read_config(self) -> SearchConfig | None:
        if not self.config_path.is_file():
            return None
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise FalsrError(f"{self.config_path}: not a search config ({e})") from None
        if isinstance(data, dict):
            data.setdefault("precision", "float32")  # searches from before the option trained in float32
            data.setdefault("horizon", None)  # and their schedules spanned the candidate's own training
        return SearchConfig.from_dict(data, where=str(self.config_path))

    def write_config(self, config: SearchConfig) -> None:
        write_json(self.config_path, config.to_dict())

    # ---- evaluations -----------------------------------------------------------------------------------

    def read_records(self) -> list[dict]:
        """Every journalled line; a last line torn by a crash is cut off so appends stay clean."""
        self._cut_torn_tail()
        records = read_jsonl(self.evaluations_path)
        self._seq = len(records)
        # A line that is JSON but not a whole record (an edit, a disk fault) is left out: that candidate is
        # evaluated again rather than the search ending on it.
        return [r for r in records if _is_record(r)]

    def read_evaluations(self) -> list[dict]:
        """Every journalled candidate: its one record (successive halving's rung records left out)."""
        return [r for r in self.read_records() if r.get("kind") != RUNG]

    def read_rungs(self) -> list[dict]:
        """Successive halving's rung records: one per candidate and rung it was trained at."""
        return [r for r in self.read_records() if r.get("kind") == RUNG]

    def _cut_torn_tail(self) -> None:
        path = self.evaluations_path
        if not path.is_file() or path.stat().st_size == 0:
            return
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            f.truncate(f.read().rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def append(self, record: dict) -> dict:
        """Append one evaluation (numbered in order) and return it."""
        if self._seq is None:
            self._seq = len(read_jsonl(self.evaluations_path))
        record = {"seq": self._seq, **record}
        append_jsonl(self.evaluations_path, record)
        self._seq += 1
        return record

    # ---- snapshots ---------------------------------------------------------------------------------------

    def snapshot_dir(self, generation: int) -> Path:
        return self.state_dir / f"gen_{generation:04d}"

    def save_snapshot(self, generation: int, state: dict[str, Any],
                      controller: Controller | None = None) -> None:
        """Write state.json (+ controller.npz) into a fresh folder, fsync, rename it into place."""
        # The temporary folder is `.gen_N.…`, a stray _prune removes; a generation redone after a crash
        # between rename and prune replaces its snapshot.
        with atomic_dir(self.snapshot_dir(generation)) as tmp:
            if controller is not None:
                controller.save(tmp / "controller.npz")
            # state.json last: its presence marks a complete snapshot.
            write_json(tmp / "state.json", state)
        self._prune()

    def _prune(self) -> None:
        done = self.snapshots()
        for g in done[:-KEEP_SNAPSHOTS]:
            shutil.rmtree(self.snapshot_dir(g), ignore_errors=True)
        for stray in self.state_dir.glob(".gen_*"):
            shutil.rmtree(stray, ignore_errors=True)

    def snapshots(self) -> list[int]:
        """Generations with a complete snapshot, ascending."""
        if not self.state_dir.is_dir():
            return []
        gens = []
        for d in self.state_dir.glob("gen_*"):
            if (d / "state.json").is_file() and d.name[4:].isdigit():
                gens.append(int(d.name[4:]))
        return sorted(gens)

    def snapshot_states(self) -> Iterator[tuple[dict[str, Any] | None, Path]]:
        """(state, folder) of each snapshot, newest first; state None where state.json does not read as an
        object (a disk fault, an edit): the caller passes over it to the one before."""
        for g in reversed(self.snapshots()):
            folder = self.snapshot_dir(g)
            try:
                state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError):
                state = None
            yield (state if isinstance(state, dict) else None), folder



def _is_record(r: Any) -> bool:
    """A journal line with what the search reads of it: hash, generation, genome, status and costs (and a
    PSNR when it trained)."""
    number = (int, float)
    if isinstance(r, dict) and r.get("kind") == RUNG:  # a successive-halving rung: hash, steps, outcome
        return (isinstance(r.get("hash"), str) and isinstance(r.get("steps"), int)
                and r.get("status") in (OK, SKIPPED, FAILED)
                and (r["status"] != OK or isinstance(r.get("psnr"), number)))
    return (isinstance(r, dict) and isinstance(r.get("hash"), str) and isinstance(r.get("generation"), int)
            and isinstance(r.get("genome"), list) and r.get("status") in (OK, SKIPPED, FAILED)
            and isinstance(r.get("mult_adds"), number) and isinstance(r.get("params"), number)
            and (r["status"] != OK or isinstance(r.get("psnr"), number)))

