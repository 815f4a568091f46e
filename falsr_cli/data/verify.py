"""What checking a local data set found: `VerifyReport` (shared by the registry and the built-in samples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class VerifyReport:
    """Result of checking a local data set: which files are fine, missing or bad (with why)."""

    name: str
    folder: Path
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.bad

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "ok": len(self.ok),
            "missing": self.missing,
            "bad": [{"file": f, "reason": r} for f, r in self.bad],
            "complete": self.complete,
        }
