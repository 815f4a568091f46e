"""The machine a figure was measured on: CPU model and the vector-instruction flags that decide speed."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

# The flags that change which kernels TensorFlow/oneDNN/XNNPACK can use (and so step times and rates).
VECTOR_FLAGS = ("avx", "fma", "f16c", "amx")
CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """E.g. 'AMD EPYC' or 'Intel(R) Xeon(R) …' (/proc/cpuinfo), else what the platform says."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_generation() -> str | None:
    """'family 25, model 17' (/proc/cpuinfo): the name alone ('AMD EPYC') does not tell Zen 4 from Zen 5."""
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model\t")
    return f"family {family}, model {model}" if family and model else None


def cpu_flags() -> list[str]:
    """The CPU's vector flags (avx2, avx512f, avx512_bf16, fma, …), sorted; empty where unknown."""
    flags = (_cpuinfo_field("flags") or "").split()
    return sorted(f for f in flags if f.startswith(VECTOR_FLAGS))


def usable_cores() -> int:
    """The cores this process may use (its CPU affinity), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def describe() -> dict[str, object]:
    """What a model card or benchmark records about the machine."""
    return {"cpu": cpu_model(), "cpu_generation": cpu_generation(), "cpu_flags": cpu_flags(),
            "cpu_count": os.cpu_count(), "platform": platform.platform()}


def machine_id(*extra: str) -> str:
    """A short stable name of this machine's processor (model, vector flags, cores) and of `extra` (e.g.
    a runtime's version): measurements keyed by it are remeasured when any of these change."""
    text = "|".join([cpu_model(), " ".join(cpu_flags()), str(os.cpu_count()), *extra])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
