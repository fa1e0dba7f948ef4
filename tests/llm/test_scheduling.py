"""Calls of rollouts already under way go before new rollouts' first calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from clue.llm.backends.llama_runtime import InferenceWorker
from clue.llm.scheduling import RankedSemaphore, call_rank


async def _two_step_rollouts(semaphore: asyncio.Semaphore | RankedSemaphore, rollouts: int) -> list[str]:
    order: list[str] = []

    async def rollout(number: int) -> None:
        for step in ("extract", "solve"):
            async with semaphore:
                await asyncio.sleep(0)
                order.append(f"{step}{number}")

    await asyncio.gather(*(rollout(n) for n in range(rollouts)))
    return order


async def test_ranked_semaphore_lets_a_started_rollout_overtake_new_ones() -> None:
    fifo = await _two_step_rollouts(asyncio.Semaphore(1), 4)
    ranked = await _two_step_rollouts(RankedSemaphore(1), 4)

    # A plain semaphore serves every first step before any second one: nothing finishes early.
    assert fifo == ["extract0", "extract1", "extract2", "extract3", "solve0", "solve1", "solve2", "solve3"]
    assert sorted(ranked) == sorted(fifo)
    assert ranked.index("solve0") < ranked.index("extract2")
    assert ranked.index("solve1") < ranked.index("extract3")


async def test_a_task_keeps_its_rank_across_calls() -> None:
    async def two_ranks() -> tuple[int, int]:
        first = call_rank()
        await asyncio.sleep(0)
        return first, call_rank()

    early, late = await asyncio.gather(two_ranks(), two_ranks())
    assert early[0] == early[1] and late[0] == late[1]
    assert early[0] < late[0]


async def test_a_cancelled_waiter_does_not_keep_its_slot() -> None:
    semaphore = RankedSemaphore(1)
    await semaphore.acquire()
    waiter = asyncio.create_task(semaphore.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    semaphore.release()

    await asyncio.wait_for(semaphore.acquire(), timeout=1)


def test_ranked_semaphore_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RankedSemaphore(0)


def test_the_worker_runs_waiting_calls_lowest_rank_first() -> None:
    worker = InferenceWorker(name="test-worker")
    release = threading.Event()
    ran: list[str] = []
    blocker = worker.submit(0, release.wait)
    futures = [worker.submit(rank, lambda rank=rank: ran.append(f"rank{rank}")) for rank in (5, 1, 3, 1)]
    release.set()
    blocker.result(timeout=5)
    for future in futures:
        future.result(timeout=5)

    assert ran == ["rank1", "rank1", "rank3", "rank5"]


def test_the_worker_hands_exceptions_to_the_caller_and_keeps_serving() -> None:
    worker = InferenceWorker(name="test-worker")

    def boom() -> None:
        raise RuntimeError("model fell over")

    with pytest.raises(RuntimeError, match="fell over"):
        worker.submit(0, boom).result(timeout=5)
    assert worker.submit(0, lambda: 42).result(timeout=5) == 42
