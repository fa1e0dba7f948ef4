"""How llama.cpp runs in this process: its OpenMP wait policy, its thread count, and its one worker thread.

`prepare_openmp()` must run before `llama_cpp` is first imported: libgomp reads its wait policy once,
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

# llama.cpp's OpenMP threads meet at a barrier after every operation, hundreds of times per decoded token.
# libgomp's default lets a waiting thread spin for 300,000 rounds before it sleeps: on a machine shared
# with other busy processes the spinner holds a core its descheduled sibling needs, and decoding collapses
# (SmolLM2 0.7 tok/s instead of 56). OMP_WAIT_POLICY=PASSIVE fixes that but sleeps at every barrier, and
# waking a sleeping vCPU is slow: idle decode lost 35% (1.5B) to 60% (SmolLM2). A short spin keeps the
# idle speed and bounds what a spinner can waste (perf/omp_wait_policy.py has the measurements), and
# `ThreadGovernor` decodes with fewer threads while other processes want the cores.
DEFAULT_GOMP_SPINCOUNT = "10000"
OPENMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def prepare_openmp() -> bool:
    """Bound libgomp's spin unless the user chose a wait policy or spin count. False when too late.

    libgomp reads both variables once, when llama.cpp's CPU library loads, so this must run before
    `llama_cpp` is first imported; importing `clue.llm.backends.local` does it.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", DEFAULT_GOMP_SPINCOUNT)
    return "llama_cpp" not in sys.modules


def openmp_environment() -> dict[str, str]:
    """The wait-policy variables for a child llama.cpp process (llama-server), as this process uses them."""
    prepare_openmp()
    return {key: os.environ[key] for key in OPENMP_WAIT_VARIABLES if key in os.environ}


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
