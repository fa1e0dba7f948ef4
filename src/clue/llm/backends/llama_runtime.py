"""How llama.cpp runs in this process: its OpenMP wait policy, its thread count, and its one worker thread.

`prepare_openmp()` must run before `llama_cpp` is first imported: libgomp reads OMP_WAIT_POLICY once,
when llama.cpp's CPU library is loaded. Importing `clue.llm.backends.local` calls it.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import math
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# libgomp's default lets idle OpenMP threads spin before they sleep; with more runnable threads than
# cores each parallel section then waits for a descheduled sibling. Measured with SmolLM2-135M, 2 threads,
# on the shared 2-core machine (load average 12-20, bench/local_model_speed.py, back to back):
# decode 16-21 tok/s with PASSIVE, 0.9-2.9 with libgomp's default, 0.4-1.3 with a build without OpenMP
# (ggml's own threadpool spins in its barrier). PASSIVE is set unless the user chose a policy.
DEFAULT_OMP_WAIT_POLICY = "PASSIVE"


def prepare_openmp() -> bool:
    """Set OMP_WAIT_POLICY unless the user did. False when llama_cpp is already loaded: too late to matter."""
    os.environ.setdefault("OMP_WAIT_POLICY", DEFAULT_OMP_WAIT_POLICY)
    return "llama_cpp" not in sys.modules


def _cgroup_cpu_limit(root: Path) -> float | None:
    """CPUs granted by a cgroup quota (v2 cpu.max or v1 cfs quota), None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may actually use: its affinity mask, capped by a container's CPU quota."""
    cpus = len(os.sched_getaffinity(0)) or 1
    limit = _cgroup_cpu_limit(cgroup_root)
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return cpus


class InferenceWorker:
    """One thread runs every llama.cpp call of the process, lowest rank first (FIFO among equals).

    A llama.cpp context is not thread-safe, and one call already uses every core, so calls run one at a
    time; the rank (see `clue.llm.scheduling`) decides which waiting call goes next.
    """

    def __init__(self, name: str = "clue-llama") -> None:
        self._name = name
        self._queue: list[tuple[float, int, concurrent.futures.Future[Any], Callable[[], Any]]] = []
        self._arrivals = itertools.count()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, rank: float, work: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._ready:
            heapq.heappush(self._queue, (rank, next(self._arrivals), future, work))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                _, _, future, work = heapq.heappop(self._queue)
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up while it waited
            try:
                result = work()
            except BaseException as exc:  # handed to the caller, who re-raises it
                future.set_exception(exc)
            else:
                future.set_result(result)


INFERENCE = InferenceWorker()
