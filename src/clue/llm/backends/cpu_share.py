"""Decode with as many threads as the machine has cores free for us, re-checked while a reply is generated.

Decoding one token runs hundreds of small operations, each ending at a barrier where llama.cpp's threads
wait for one another. When another busy process holds one of our cores, every barrier waits for the
thread that core was taken from, and decode speed collapses: SmolLM2 with 2 threads beside one busy
process decoded 8.9 tok/s, with 1 thread 45 (idle: 67 with 2). Prompt evaluation works in large
operations, so it keeps every CPU; only the single-token steps are governed.

"Others" are runnable tasks system-wide (/proc/stat `procs_running`) minus this process's own running
threads, the minimum of a few samples so a process that merely passes by is not counted; the free cores
are the machine's CPUs minus those, so on a big host a small CPU share is not mistaken for a busy
machine. Thread counts do not change replies: each output value of an operation is computed whole by one
thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

CHECK_INTERVAL_S = 0.25
SAMPLES = 3


def _procs_running(proc: Path) -> int | None:
    try:
        for line in (proc / "stat").read_text().splitlines():
            if line.startswith("procs_running "):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _own_running_threads(proc: Path) -> int:
    running = 0
    try:
        tasks = list((proc / "self" / "task").iterdir())
    except OSError:
        return 1
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        if stat[stat.rindex(")") + 2:].startswith("R"):
            running += 1
    return max(running, 1)  # the thread asking is running


def other_runnable_tasks(proc: Path = Path("/proc"), samples: int = SAMPLES) -> int | None:
    """Runnable tasks of other processes right now; None where /proc does not tell."""
    counts = [_procs_running(proc) for _ in range(samples)]
    if any(count is None for count in counts):
        return None
    return max(0, min(count for count in counts if count is not None) - _own_running_threads(proc))


class ThreadGovernor:
    """Decode threads: the machine's cores other runnable tasks leave free, at least one, at most `cpus`."""

    def __init__(self, cpus: int, *, machine_cpus: int | None = None, interval_s: float = CHECK_INTERVAL_S,
                 others: Callable[[], int | None] = other_runnable_tasks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cpus = max(1, cpus)
        self._machine_cpus = max(self.cpus, machine_cpus or os.cpu_count() or 1)
        self._interval_s = interval_s
        self._others = others
        self._clock = clock
        self._threads = self.cpus
        self._checked_at: float | None = None

    def decode_threads(self) -> int:
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self._interval_s:
            self._checked_at = now
            others = self._others()
            free = self._machine_cpus if others is None else self._machine_cpus - others
            self._threads = max(1, min(self.cpus, free))
        return self._threads


def govern_decode_threads(llama: Llama, governor: ThreadGovernor) -> None:
    """Make `llama` decode single tokens with the governor's thread count; batches keep every CPU."""
    import llama_cpp

    evaluate = llama.eval
    current = -1

    def eval_with_free_cores(tokens: Sequence[int], *args: Any, **kwargs: Any) -> Any:
        nonlocal current
        if len(tokens) == 1:
            threads = governor.decode_threads()
            if threads != current:
                llama_cpp.llama_set_n_threads(llama.ctx, threads, governor.cpus)
                current = threads
        return evaluate(tokens, *args, **kwargs)

    llama.eval = eval_with_free_cores  # type: ignore[method-assign]


def governed_by_default() -> bool:
    """Off with CLUE_LOCAL_FIXED_THREADS=1: every step then uses every CPU, as llama-cpp-python does."""
    return os.environ.get("CLUE_LOCAL_FIXED_THREADS", "").lower() not in {"1", "true", "yes"}
