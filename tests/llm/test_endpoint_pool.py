"""Several servers of one model: least-loaded routing, weights, failover, probing back, a server killed mid-run."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, echo, free_port, make_llm

from clue.bench.data.records import Pair, Turn
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import RunAborted, Runner
from clue.bench.scorers.score import Score
from clue.llm.client import LLM
from clue.llm.endpoints import EndpointPool
from clue.llm.ledger import UsageJournal, journal_endpoint_totals
from clue.llm.types import EndpointRefusedError, Message
from clue.memory.prompts import ExtractionPrompt

MESSAGES: list[Message] = [{"role": "user", "content": "2+2?"}]


@pytest.fixture
def two() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    first, second = FakeOpenAI(), FakeOpenAI()
    yield first, second
    for server in (first, second):
        server.close()


def pool_llm(*urls: str, overrides: tuple[str, ...] = (), retries: int = 2) -> LLM:
    """Every role served by all of `urls`."""
    return make_llm(",".join(urls), *overrides, retries=retries)


async def test_calls_go_to_the_least_loaded_endpoint(two: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    for server in two:
        server.delay_s = 0.2
    llm = pool_llm(*(s.base_url for s in two), overrides=("solver.concurrency=2", "solver.queue_ahead=0"))
    try:
        replies = await asyncio.gather(*(llm.chat("solver", MESSAGES, repeat=i) for i in range(8)))
    finally:
        await llm.aclose()
    assert [len(s.requests) for s in two] == [4, 4]
    assert {r.endpoint for r in replies} == {s.base_url for s in two}
    by_endpoint = llm.ledger.endpoint_snapshot()
    assert {url: usage["calls"] for url, usage in by_endpoint.items()} == {s.base_url: 4 for s in two}
    assert llm.slots("solver") == 4


async def test_weights_give_an_endpoint_a_larger_share(two: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    for server in two:
        server.delay_s = 0.1
    big, small = two
    llm = pool_llm(big.base_url, small.base_url, overrides=("solver.concurrency=1", "solver.queue_ahead=0"))
    llm.settings.roles["solver"].endpoints[0].weight = 3.0
    try:
        await asyncio.gather(*(llm.chat("solver", MESSAGES, repeat=i) for i in range(8)))
    finally:
        await llm.aclose()
    assert (len(big.requests), len(small.requests)) == (6, 2)


async def test_a_down_endpoint_is_taken_out_and_its_calls_go_to_the_other(
        two: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    alive = two[0]
    dead = f"http://127.0.0.1:{free_port()}/v1"
    llm = pool_llm(dead, alive.base_url)
    notices: list[str] = []
    llm.on_notice = notices.append
    try:
        replies = await asyncio.gather(*(llm.chat("solver", MESSAGES, repeat=i) for i in range(6)))
        report = {row["url"]: row for row in llm.endpoint_report()}
    finally:
        await llm.aclose()
    assert all(r.endpoint == alive.base_url for r in replies)
    assert len(alive.requests) == 6 and llm.ledger.by_role["solver"].failed_calls == 0
    assert not report[dead]["in_service"] and report[dead]["faults"] >= 1
    assert any(f"endpoint {dead} taken out" in n and "connection refused" in n for n in notices)


async def test_a_server_error_moves_the_call_to_another_endpoint(two: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    failing, healthy = two
    failing.responder = lambda body: (503, {"error": {"message": "engine is dead"}})
    llm = pool_llm(failing.base_url, healthy.base_url)
    try:
        replies = [await llm.chat("solver", MESSAGES, repeat=i) for i in range(3)]
    finally:
        await llm.aclose()
    assert len(failing.requests) == 1, "taken out after its first 5xx"
    assert [r.endpoint for r in replies] == [healthy.base_url] * 3


async def test_a_silent_endpoint_is_left_after_the_idle_limit(two: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    silent, healthy = two
    silent.delay_s = 3.0
    llm = pool_llm(silent.base_url, healthy.base_url, overrides=("solver.idle_timeout_s=0.3",))
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await llm.chat("solver", MESSAGES)
        elapsed = loop.time() - started
    finally:
        await llm.aclose()
    assert reply.endpoint == healthy.base_url and elapsed < 2.0


async def test_an_endpoint_back_up_is_probed_and_taken_back() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    other = FakeOpenAI()
    llm = pool_llm(url, other.base_url)
    notices: list[str] = []
    llm.on_notice = notices.append
    revived: FakeOpenAI | None = None
    try:
        await llm.chat("solver", MESSAGES)  # finds `url` down, goes to the other
        pool = llm.backend("solver")
        assert isinstance(pool, EndpointPool)
        pool.endpoints[0].backend.timeout_s = 1.0
        revived = FakeOpenAI(port)
        for _ in range(60):
            if pool.endpoints[0].in_service:
                break
            await asyncio.sleep(0.1)
        assert pool.endpoints[0].in_service and pool.limit.capacity == llm.slots("solver")
        replies = await asyncio.gather(*(llm.chat("solver", MESSAGES, repeat=i) for i in range(1, 9)))
    finally:
        await llm.aclose()
        other.close()
        if revived is not None:
            revived.close()
    assert any(r.endpoint == url for r in replies), "calls reach the endpoint again"
    assert any(f"endpoint {url} is back in service" in n for n in notices)


async def test_all_endpoints_down_is_one_refused_error() -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    llm = pool_llm(*urls)
    try:
        with pytest.raises(EndpointRefusedError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert "connection refused" in str(info.value) and "\n" not in str(info.value)


# --- a run over three servers, one killed mid-run -----------------------------------------------------------

class EchoTask:
    def query_messages(self, pair: Pair) -> list[Message]:
        return [{"role": "user", "content": f"Say {pair.target['token']}"}]

    async def score(self, pair: Pair, solver_text: str, judge: Any) -> Score:
        return Score(1.0 if str(pair.target["token"]) in solver_text else 0.0, "token check")


def make_pairs(n: int) -> list[Pair]:
    return [Pair(dataset="Echo", subset="Echo", source_id=i, target_id=i,
                 source_messages=[Turn(role="user", content=f"I like {i}"), Turn(role="assistant", content="ok")],
                 target={"id": i, "token": f"tok{i}"}) for i in range(n)]


async def test_a_run_loses_and_duplicates_nothing_when_one_endpoint_dies(tmp_path: Path) -> None:
    servers = [FakeOpenAI() for _ in range(3)]
    victim = servers[1]
    for server in servers:
        server.delay_s = 0.05
    killed = threading.Event()

    def echo_then_die(body: dict[str, Any]) -> tuple[int, Any]:
        if len(victim.requests) == 12 and not killed.is_set():
            killed.set()
            threading.Thread(target=victim.kill, daemon=True).start()  # mid-reply, with calls in flight
        return echo(body)

    victim.responder = echo_then_die
    llm = pool_llm(*(s.base_url for s in servers), overrides=("extractor.concurrency=2", "solver.concurrency=2"))
    journal = UsageJournal(tmp_path / "usage.jsonl")
    llm.ledger.listeners.append(journal)
    store = RolloutStore(tmp_path / "rollouts.jsonl")
    runner = Runner(llm, tasks=lambda dataset: EchoTask(),  # type: ignore[arg-type,return-value]
                    info=lambda dataset: ("problem-solving", False), concurrency=4)
    prompt = ExtractionPrompt("simple", "Write down what you learn about the user.")
    try:
        rollouts = await runner.evaluate(prompt, make_pairs(40), store=store)
    finally:
        store.close()
        journal.close()
        await llm.aclose()
        for server in servers:
            if server is not victim:
                server.close()
    assert killed.is_set()
    report = {row["url"]: row for row in llm.endpoint_report()}
    assert report[victim.base_url]["faults"] >= 1 and not report[victim.base_url]["in_service"], \
        "calls were in flight on the server when it died, and moved to the others"
    assert all(r.reward == 1.0 and r.error is None for r in rollouts), "no rollout lost"
    lines = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(lines) == 40 and len({line["rollout_id"] for line in lines}) == 40, "none written twice"
    usage = llm.ledger.snapshot()
    assert usage["extractor"]["calls"] == 40 and usage["solver"]["calls"] == 40, "each call counted once"
    per_endpoint = journal_endpoint_totals(tmp_path / "usage.jsonl")
    assert sum(u["calls"] for u in per_endpoint.values()) == 80
    assert per_endpoint[victim.base_url]["calls"] < 40 and len(per_endpoint) == 3


async def test_a_run_with_every_endpoint_down_aborts_for_resume(tmp_path: Path) -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    llm = pool_llm(*urls)
    store = RolloutStore(tmp_path / "rollouts.jsonl")
    runner = Runner(llm, tasks=lambda dataset: EchoTask(),  # type: ignore[arg-type,return-value]
                    info=lambda dataset: ("problem-solving", False), concurrency=4)
    try:
        with pytest.raises(RunAborted):
            await runner.evaluate(ExtractionPrompt("simple", "Notes."), make_pairs(4), store=store)
    finally:
        store.close()
        await llm.aclose()
    assert (tmp_path / "rollouts.jsonl").read_text() == ""
