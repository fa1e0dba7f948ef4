"""Which waiting model call goes next: calls of rollouts already under way before calls of new ones.

A rollout runs in its own asyncio task and makes several calls in turn (extract, solve, judge). When
every rollout's first call is queued before any second call, a single local model finishes no rollout
until it has extracted for all of them. Ranking each call by the order in which its task made its
first call, and serving the lowest rank first, lets a rollout's solve overtake later rollouts'
extractions, so results reach disk one after another.

Near the end of a run that order leaves slots idle: when fewer rollouts are left to start than there are
slots, starting them last means their second calls run nearly alone. A runner therefore announces its
rollouts as a `Backlog`; once the rollouts not yet started fit in the capacity, their first calls go
ahead of continuations, so the last wave is full. With 80 two-call rollouts and 32 slots this takes the
wall time from 6 to 5 call latencies (the ideal: 160 calls / 32 slots).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import weakref
from dataclasses import dataclass
from types import TracebackType

_next_rank = itertools.count()


class Backlog:
    """Rollouts a runner will run whose first call has not been admitted yet."""

    def __init__(self) -> None:
        self.unstarted = 0

    def join(self) -> None:
        """Count the current task as one of these rollouts (call it before waiting for anything)."""
        state = _state()
        state.backlog = self
        if not state.started:
            self.unstarted += 1

    def leave(self) -> None:
        """The current task's rollout is over; if it never made a call (all cached), it no longer waits."""
        state = _state()
        if state.backlog is self and not state.started:
            state.started = True
            self.unstarted -= 1
        state.backlog = None


@dataclass
class _TaskState:
    rank: int
    started: bool = False  # a call of this task has been admitted
    backlog: Backlog | None = None

    def admitted(self) -> None:
        if not self.started:
            self.started = True
            if self.backlog is not None:
                self.backlog.unstarted -= 1


_states: weakref.WeakKeyDictionary[asyncio.Task[object], _TaskState] = weakref.WeakKeyDictionary()


def _state() -> _TaskState:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller
        task = None
    if task is None:
        return _TaskState(next(_next_rank))
    state = _states.get(task)
    if state is None:
        state = _states[task] = _TaskState(next(_next_rank))
    return state


def call_rank() -> int:
    """The current task's rank: fixed at its first call, smaller for tasks that started earlier."""
    return _state().rank


_Waiter = tuple[int, int, "asyncio.Future[None]", _TaskState]


class RankedSemaphore:
    """An asyncio semaphore whose waiters are admitted by `call_rank()` (lowest first, FIFO among equals).

    `fill_tail`: a backlog's first calls go first once its unstarted rollouts fit in the capacity. Only
    where the capacity is what the server really works on at once (an endpoint's slots): in front of a
    model that runs one call at a time, it would queue every extraction before the first solve."""

    def __init__(self, value: int, *, fill_tail: bool = False) -> None:
        if value < 1:
            raise ValueError(f"semaphore value must be at least 1, got {value}")
        self.fill_tail = fill_tail
        self.capacity = value
        self._free = value
        self._first: list[_Waiter] = []  # first calls of their task
        self._next: list[_Waiter] = []  # later calls
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for heap in (self._first, self._next) for *_, future, _ in heap if not future.done())

    async def acquire(self) -> None:
        state = _state()  # the rank is fixed now even when admitted at once, so later calls keep it
        if self._free > 0 and not self.waiting:
            self._free -= 1
            state.admitted()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._next if state.started else self._first,
                       (state.rank, next(self._arrivals), future, state))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as the waiter was cancelled
            raise

    def release(self) -> None:
        self._free += 1
        self._wake()

    def resize(self, delta: int) -> None:
        """Grow or shrink the capacity (an endpoint back in or out of service). Shrinking below the calls
        in flight lets them finish; no new call is admitted until they are under the new capacity."""
        self.capacity += delta
        self._free += delta
        self._wake()

    def _wake(self) -> None:
        while self._free > 0:
            waiter = self._pop()
            if waiter is None:
                return
            *_, future, state = waiter
            self._free -= 1
            state.admitted()
            future.set_result(None)

    def _pop(self) -> _Waiter | None:
        for heap in (self._first, self._next):
            while heap and heap[0][2].done():
                heapq.heappop(heap)
        if not self._first:
            return heapq.heappop(self._next) if self._next else None
        first = self._first[0]
        backlog = first[3].backlog
        tail = self.fill_tail and backlog is not None and backlog.unstarted <= self.capacity
        if not self._next or tail or first[:2] < self._next[0][:2]:
            return heapq.heappop(self._first)
        return heapq.heappop(self._next)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.release()
