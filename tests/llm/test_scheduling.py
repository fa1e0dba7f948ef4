"""Calls of rollouts already under way go before new rollouts' first calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from clue.llm.backends.llama_runtime import InferenceWorker
from clue.llm.scheduling import Backlog, RankedSemaphore, call_rank


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


async def _waves(chains: int, slots: int, *, backlog: Backlog | None) -> list[list[str]]:
    """Run `chains` two-call chains (extract e<i>, then solve s<i>) through a RankedSemaphore(slots) in
    lockstep: every call in flight ends together (a fixed latency). Returns the calls of each wave."""
    semaphore = RankedSemaphore(slots, fill_tail=True)
    loop = asyncio.get_running_loop()
    in_flight: list[tuple[str, asyncio.Future[None]]] = []

    async def chain(number: int) -> None:
        if backlog is not None:
            backlog.join()
        for step in ("e", "s"):
            async with semaphore:
                call: asyncio.Future[None] = loop.create_future()
                in_flight.append((f"{step}{number}", call))
                await call
        if backlog is not None:
            backlog.leave()

    tasks = [asyncio.create_task(chain(number)) for number in range(chains)]
    waves: list[list[str]] = []
    while not all(task.done() for task in tasks):
        for _ in range(20):  # let every admitted call reach the server
            await asyncio.sleep(0)
        wave, in_flight[:] = list(in_flight), []
        assert len(wave) <= slots
        for _, call in wave:
            call.set_result(None)
        if wave:
            waves.append([name for name, _ in wave])
    await asyncio.gather(*tasks)
    return waves


async def test_the_last_rollouts_start_early_enough_to_fill_the_last_wave() -> None:
    # 80 two-call rollouts on 32 slots: 160 calls fit in 5 waves. Serving started rollouts first, as
    # without a backlog, leaves 16 rollouts to start alone at the end: 6 waves.
    plain = await _waves(80, 32, backlog=None)
    ranked = await _waves(80, 32, backlog=Backlog())
    assert len(plain) == 6 and len(plain[-1]) < 32
    assert len(ranked) == 5 and all(len(wave) == 32 for wave in ranked)
    solves = sum(name.startswith("s") for name in ranked[1])
    assert solves >= 30, "started rollouts still go first: results come one wave after another"


async def test_a_backlog_keeps_a_single_slot_depth_first() -> None:
    order = [name for wave in await _waves(4, 1, backlog=Backlog()) for name in wave]
    assert order.index("s0") < order.index("e2") and order.index("s2") < order.index("s3")
    assert order.index("s1") < order.index("e3")


async def test_resize_takes_slots_out_and_gives_them_back() -> None:
    semaphore = RankedSemaphore(2)
    await semaphore.acquire()
    await semaphore.acquire()
    semaphore.resize(-1)  # an endpoint left: one slot fewer, even though both are in use
    semaphore.release()
    waiter = asyncio.create_task(semaphore.acquire())
    await asyncio.sleep(0)
    assert not waiter.done(), "the released slot paid back the one taken out"
    semaphore.resize(1)
    await asyncio.wait_for(waiter, timeout=1)
    assert semaphore.capacity == 2
