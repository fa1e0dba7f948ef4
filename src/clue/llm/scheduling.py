"""Which waiting model call goes next: calls of rollouts already under way before calls of new ones.

A rollout runs in its own asyncio task and makes several calls in turn (extract, solve, judge). When
every rollout's first call is queued before any second call, a single local model finishes no rollout
until it has extracted for all of them. Ranking each call by the order in which its task made its
first call, and serving the lowest rank first, lets a rollout's solve overtake later rollouts'
extractions, so results reach disk one after another.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import weakref
from types import TracebackType

_task_ranks: weakref.WeakKeyDictionary[asyncio.Task[object], int] = weakref.WeakKeyDictionary()
_next_rank = itertools.count()


def call_rank() -> int:
    """The current task's rank: fixed at its first call, smaller for tasks that started earlier."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller
        task = None
    if task is None:
        return next(_next_rank)
    rank = _task_ranks.get(task)
    if rank is None:
        rank = next(_next_rank)
        _task_ranks[task] = rank
    return rank


class RankedSemaphore:
    """An asyncio semaphore whose waiters are admitted by `call_rank()` (lowest first, FIFO among equals)."""

    def __init__(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"semaphore value must be at least 1, got {value}")
        self._free = value
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    async def acquire(self) -> None:
        rank = call_rank()  # fixed now even when admitted at once, so the task's later calls keep it
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rank, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as the waiter was cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            *_, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.release()
