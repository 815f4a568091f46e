"""Where candidates train: in this process, in N local Dask worker processes, or on a Dask cluster.

`--workers N` starts `dask.distributed.LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`;
`--scheduler ADDRESS` connects a `Client` to an existing cluster, e.g. on every GPU host

    dask scheduler                                                     # once
    CUDA_VISIBLE_DEVICES=K dask worker ADDRESS --resources GPU=1 --nthreads 1 --name gpuK   # per GPU K

Everything else is Dask's: futures, `as_completed`, resources and worker restarts. When the workers offer a
`GPU` resource every candidate asks for `resources={"GPU": 1}`, so a GPU trains one candidate at a time, and
the `PinGPU` worker plugin pins each worker to its GPU through CUDA_VISIBLE_DEVICES (set before TensorFlow
starts): a local worker i gets the i-th visible GPU, a cluster worker named `gpuK` gets GPU K, and a worker
already started with a single device in CUDA_VISIBLE_DEVICES keeps it.

A task whose worker dies (killed, out of host memory, a crashed driver) ends in Dask's `KilledWorker`; it
is submitted once more, and reported as failed if its second worker dies too. The local cluster lets Dask
give up after the first death (`distributed.scheduler.allowed-failures = 0`), so that this one retry is
the only one; an external scheduler applies its own allowed-failures first.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from falsr_cli.errors import FalsrError


@dataclass
class Outcome:
    """The end of one task: its value, or the error that ended it; attempts made; worker deaths seen."""

    key: str
    value: Any = None
    error: str | None = None
    attempts: int = 1
    lost: list[str] = field(default_factory=list)


class InProcessPool:
    """Runs tasks one after another in this process (`--workers 0`): no Dask, for debugging and tests."""

    description = "in this process"

    def map_unordered(self, fn: Callable, tasks: list[tuple[str, tuple]], **kwargs: Any) -> Iterator[Outcome]:
        for key, args in tasks:
            try:
                yield Outcome(key, value=fn(*args, **kwargs))
            except Exception as e:  # noqa: BLE001 — reported per task like a worker's error
                yield Outcome(key, error=f"{type(e).__name__}: {e}")

    def close(self) -> None:
        pass


def visible_gpus() -> list[str]:
    """GPU ids this host offers: CUDA_VISIBLE_DEVICES if set, else what `nvidia-smi -L` lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def gpu_for_worker(name: Any, gpus: list[str] | None) -> str | None:
    """The GPU a worker should use: the (name mod len)-th local GPU, or K for a worker named `gpuK`."""
    text = str(name)
    if gpus:
        m = re.search(r"(\d+)$", text)
        return gpus[int(m[1]) % len(gpus)] if m else None
    m = re.search(r"gpu[-_]?(\d+)$", text, re.IGNORECASE)
    return m[1] if m else None


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - distributed is a dependency
    _WorkerPlugin = object  # type: ignore[assignment,misc]


class PinGPU(_WorkerPlugin):  # type: ignore[misc,valid-type]
    """Set CUDA_VISIBLE_DEVICES in each worker to its own GPU, before any task imports TensorFlow."""

    name = "falsr-pin-gpu"

    def __init__(self, gpus: list[str] | None = None):
        self.gpus = gpus

    def setup(self, worker: Any) -> None:
        current = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        if self.gpus is None and len(current) == 1:
            return  # started pinned
        gpu = gpu_for_worker(worker.name, self.gpus)
        if gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu


def _is_worker_loss(exc: BaseException | None) -> bool:
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return isinstance(exc, KilledWorker | CommClosedError | CancelledError)


class DaskPool:
    """Tasks as Dask futures on a LocalCluster of N processes or on an existing cluster."""

    def __init__(self, workers: int = 1, scheduler: str | None = None, lost_retries: int = 1):
        from dask import config as dask_config
        from distributed import Client, LocalCluster

        self.lost_retries = lost_retries
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="30s")
                gpus = None
                self.description = f"on the Dask cluster at {scheduler}"
            else:
                gpus = visible_gpus()
                kwargs: dict[str, Any] = {"resources": {"GPU": 1}} if gpus else {}
                with dask_config.set({"distributed.scheduler.allowed-failures": 0,
                                      "distributed.worker.daemon": False}):
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None, silence_logs=logging.CRITICAL,
                                                **kwargs)
                self.client = Client(self.cluster)
                self.description = f"on {workers} local worker process{'es' if workers != 1 else ''}"
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            # distributed raises ValueError/TypeError for an address it cannot parse (`foo://x:1`,
            # 'not an address'), OSError/TimeoutError for one it cannot reach.
            where = scheduler or "a local cluster"
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise FalsrError(f"cannot start Dask workers on {where}: {first}") from None
        self.client.register_plugin(PinGPU(gpus))
        infos = self.client.scheduler_info().get("workers", {}).values()
        self.resources = {"GPU": 1} if any("GPU" in (w.get("resources") or {}) for w in infos) else None
        if self.resources:
            self.description += " (one candidate per GPU)"

    def map_unordered(self, fn: Callable, tasks: list[tuple[str, tuple]], **kwargs: Any) -> Iterator[Outcome]:
        """Submit every task; yield outcomes as they finish, resubmitting a task once if its worker died."""
        from distributed import as_completed

        pending: dict[Any, tuple[str, tuple, int]] = {}
        lost: dict[str, list[str]] = {}

        def submit(key: str, args: tuple, attempt: int):
            name = f"falsr-{key}-{attempt}-{uuid.uuid4().hex[:8]}"
            fut = self.client.submit(fn, *args, key=name, pure=False, resources=self.resources, **kwargs)
            pending[fut] = (key, args, attempt)
            return fut

        futures = [submit(key, args, 1) for key, args in tasks]
        stream = as_completed(futures)
        for fut in stream:
            key, args, attempt = pending.pop(fut)
            if fut.status == "finished":
                value = fut.result()
                fut.release()
                yield Outcome(key, value=value, attempts=attempt, lost=lost.get(key, []))
                continue
            exc = fut.exception() if fut.status == "error" else None
            fut.release()
            if fut.status == "cancelled" or _is_worker_loss(exc):
                reason = f"worker died: {type(exc).__name__ if exc else 'cancelled'}"
                lost.setdefault(key, []).append(reason)
                if attempt <= self.lost_retries:
                    stream.add(submit(key, args, attempt + 1))
                    continue
                yield Outcome(key, error=f"{reason} (after {attempt} attempts)", attempts=attempt,
                              lost=lost[key])
                continue
            yield Outcome(key, error=f"{type(exc).__name__}: {exc}", attempts=attempt, lost=lost.get(key, []))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def make_pool(workers: int, scheduler: str | None = None) -> InProcessPool | DaskPool:
    """`--scheduler` wins; `--workers 0` evaluates in this process; otherwise a LocalCluster."""
    if scheduler:
        return DaskPool(scheduler=scheduler)
    if workers <= 0:
        return InProcessPool()
    return DaskPool(workers=workers)
