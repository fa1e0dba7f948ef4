"""How much does clue's harness cost on top of the model? Rollouts through the real runner vs a fake server.

A fake OpenAI-compatible server runs in a separate process (a minimal asyncio HTTP/1.1 server with
keep-alive) and answers every chat.completions request after a fixed latency. The real `Runner` with the
`openai` backend then runs N rollouts (extract + solve: 2 calls each) at concurrency C.

Printed:
- the fake server's own ceiling, driven by a minimal raw-socket client (so it is not the bottleneck);
- throughput achieved vs ideal, where ideal = C / (2 x latency) rollouts/s;
- client CPU per rollout (`time.process_time`; the server's CPU is in the other process);
- the same for the bare openai client sending the same 2 requests per rollout at the same concurrency,
  both the typed `chat.completions.create` and the generic `post` that clue's backend uses;
- harness overhead per rollout = client CPU per rollout minus the bare `post` client's.

The last line is `efficiency: E overhead_ms: O` (E = achieved / ideal throughput, O = harness ms/rollout).

    .venv/bin/python perf/harness_overhead.py [--n 2000] [--concurrency 64] [--latency-ms 20] [--with-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# --- the fake server (runs in its own process; stdlib only) ----------------------------------------------

REPLY_TEXT = "- The user prefers short answers.\n- The user works with Python.\n<answer>A</answer>"


def canned_response() -> bytes:
    body = json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY_TEXT},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
    }).encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n").encode()
    return head + body


class ServerSlots:
    """A server that decodes at most `limit` requests at once (0: no limit); the others queue in order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self.queue: deque[Callable[[], None]] = deque()

    def start(self, begin: Callable[[], None]) -> None:
        if self.limit and self.busy >= self.limit:
            self.queue.append(begin)
            return
        self.busy += 1
        begin()

    def done(self) -> None:
        self.busy -= 1
        if self.queue:
            self.busy += 1
            self.queue.popleft()()


class FakeChatProtocol(asyncio.Protocol):
    """One keep-alive connection: each complete request is answered `latency_s` after it got a slot.

    No HTTP framework, no JSON parsing: the request is framed by its Content-Length and the answer is a
    canned byte string, so the server spends a few microseconds per request.
    """

    def __init__(self, latency_s: float, response: bytes, slots: ServerSlots | None = None) -> None:
        self.latency_s = latency_s
        self.response = response
        self.slots = slots or ServerSlots(0)
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17:stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.slots.start(self._begin)

    def _begin(self) -> None:
        self.loop.call_later(self.latency_s, self._respond)

    def _respond(self) -> None:
        self.slots.done()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.response)


def serve(latency_s: float, ready: Connection, slots: int = 0) -> None:
    """Process entry point: bind a free loopback port, report it through `ready`, serve forever.
    `slots` > 0: at most that many requests are worked on at once (a server's batch limit)."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        response = canned_response()
        limit = ServerSlots(slots)
        server = await loop.create_server(lambda: FakeChatProtocol(latency_s, response, limit), "127.0.0.1", 0,
                                          backlog=1024)
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(run())


@contextmanager
def fake_servers(latency_s: float, count: int = 1, slots: int = 0) -> Iterator[list[str]]:
    """`count` fake servers, each in its own process; yields their base URLs and stops them after."""
    ctx = mp.get_context("spawn")
    processes, urls = [], []
    try:
        for _ in range(count):
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(target=serve, args=(latency_s, send, slots), daemon=True)
            process.start()
            processes.append(process)
            if not receive.poll(30):
                raise SystemExit("fake server did not start")
            urls.append(f"http://127.0.0.1:{receive.recv()}/v1")
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.join()


# --- the client side ---------------------------------------------------------------------------------------

SOURCE_TURNS = [
    ("user", "I'm planning a trip to Lisbon in May and I prefer quiet neighbourhoods. " * 4),
    ("assistant", "Alfama and Lapa are calm in the evenings; Bairro Alto is lively at night. " * 4),
    ("user", "Great. I'm vegetarian, by the way, and I like walking rather than taking taxis. " * 4),
    ("assistant", "Then Príncipe Real suits you: green squares, vegetarian places, walkable. " * 4),
]


@dataclass
class Measure:
    wall_s: float
    cpu_s: float
    n: int

    @property
    def rate(self) -> float:
        return self.n / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.n


def make_pairs(n: int) -> list[Any]:
    from clue.bench.data.records import Pair, Turn

    return [Pair(dataset="Bench", subset="Bench", source_id=i, target_id=i,
                 source_messages=[Turn(role=role, content=text) for role, text in source_turns(i)],
                 target={"id": i, "question": f"Which neighbourhood fits me best (case {i})?", "truth": "A"})
            for i in range(n)]


def source_turns(i: int) -> list[tuple[str, str]]:
    """Every pair has its own conversation, so no two requests are alike (the cache only ever misses)."""
    return [("user", f"(conversation {i})"), *SOURCE_TURNS]


class BenchTask:
    """A trivial task: the query comes from the target, the score is a pure function of the reply."""

    def query_messages(self, pair: Any) -> list[Any]:
        return [{"role": "user", "content": pair.target["question"] + " End with <answer>X</answer>."}]

    async def score(self, pair: Any, solver_text: str, judge: Any) -> Any:
        from clue.bench.scorers.score import Score

        return Score(1.0 if f"<answer>{pair.target['truth']}</answer>" in solver_text else 0.0)


async def run_raw(port: int, requests: int, concurrency: int) -> Measure:
    """The server's ceiling: C keep-alive sockets sending requests back to back, nearly free client-side."""
    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "x" * 1000}]}).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int) -> None:
        for _ in range(count):
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            at = head.find(b"content-length:")
            await reader.readexactly(int(head[at + 15:head.find(b"\r\n", at)]))

    per = max(requests // concurrency, 1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(r, w, per) for r, w in connections))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    for _, writer in connections:
        writer.close()
    return Measure(wall, cpu, per * concurrency)


async def run_harness(base_url: str, n: int, concurrency: int, cache_path: Path | None,
                      store_dir: Path, warmup: int, queue_ahead: int | None = None) -> Measure:
    from clue.bench.run.rollouts import RolloutStore
    from clue.bench.run.runner import Runner
    from clue.config import load_settings
    from clue.llm.client import LLM
    from clue.llm.types import ROLES
    from clue.memory.prompts import ExtractionPrompt, builtin_prompt_text

    env = {"CLUE_CACHE": str(cache_path)} if cache_path else {}
    settings = load_settings(cli={"backend": "openai", "base_url": base_url, "model": "fake"}, env=env,
                             no_cache=cache_path is None,
                             role_overrides={role: {"concurrency": concurrency, "queue_ahead": queue_ahead}
                                             for role in ROLES})
    llm = LLM(settings)
    task = BenchTask()
    runner = Runner(llm, tasks=lambda dataset: task,  # type: ignore[arg-type,return-value]
                    info=lambda dataset: ("personalization", False), concurrency=concurrency)
    prompt = ExtractionPrompt("simple", builtin_prompt_text("simple"))
    store = RolloutStore(store_dir / "rollouts.jsonl")
    pairs = make_pairs(warmup + n)
    try:
        await runner.evaluate(prompt, pairs[:warmup], store=store)  # connections, imports, first-call costs
        cpu0, wall0 = time.process_time(), time.perf_counter()
        rollouts = await runner.evaluate(prompt, pairs[warmup:], store=store)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        store.close()
        await llm.aclose()
    failed = [r.error for r in rollouts if r.error]
    if failed or any(r.reward != 1.0 for r in rollouts):
        raise SystemExit(f"bench rollouts went wrong: {failed[:1] or 'unexpected reward'}")
    return Measure(wall, cpu, n)


async def run_baseline(base_url: str, n: int, concurrency: int, warmup: int, *, typed: bool) -> Measure:
    """The bare openai client: the same 2 requests per rollout, C rollouts at a time, nothing else.

    `typed`: the usual `chat.completions.create` (typed request and response models); otherwise the
    client's generic `post(..., cast_to=object)`, which is the call clue's openai backend makes.
    """
    from openai import AsyncOpenAI, DefaultAioHttpClient

    from clue.memory.inject import solver_system_prompt
    from clue.memory.prompts import builtin_prompt_text
    from clue.memory.render import extraction_messages

    client = AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=600.0,
                         http_client=DefaultAioHttpClient(timeout=600.0))  # the transport clue uses
    gate = asyncio.Semaphore(concurrency)
    prompt_text = builtin_prompt_text("simple")
    task = BenchTask()
    pairs = make_pairs(max(n, warmup))

    async def call(messages: list[Any], temperature: float, top_p: float, max_tokens: int) -> str:
        if typed:
            reply = await client.chat.completions.create(model="fake", messages=messages,
                                                         temperature=temperature, top_p=top_p,
                                                         max_tokens=max_tokens, seed=42)
            return reply.choices[0].message.content or ""
        body = {"model": "fake", "messages": messages, "temperature": temperature, "top_p": top_p,
                "max_tokens": max_tokens, "seed": 42}
        data: Any = await client.post("/chat/completions", body=body, cast_to=object)
        return str(data["choices"][0]["message"]["content"] or "")

    async def rollout(pair: Any) -> None:
        async with gate:
            turns = [{"role": r, "content": t} for r, t in source_turns(pair.source_id)]
            memory = await call(extraction_messages(prompt_text, turns), 0.6, 0.95, 384)
            solve = [{"role": "system", "content": solver_system_prompt(memory)}, *task.query_messages(pair)]
            await call(solve, 0.7, 0.8, 512)

    try:
        await asyncio.gather(*(rollout(pair) for pair in pairs[:warmup]))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(rollout(pair) for pair in pairs[:n]))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await client.close()
    return Measure(wall, cpu, n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="rollouts to measure (default 2000)")
    parser.add_argument("--concurrency", type=int, default=64, help="rollouts and requests in flight")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="fake server latency per request")
    parser.add_argument("--with-cache", action="store_true", help="response cache on (a fresh tmp sqlite)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the harness run")
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000
    warmup = min(args.n, 2 * args.concurrency)

    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=serve, args=(latency_s, send), daemon=True)
    server.start()
    try:
        if not receive.poll(30):
            raise SystemExit("fake server did not start")
        port = receive.recv()
        base_url = f"http://127.0.0.1:{port}/v1"
        raw = asyncio.run(run_raw(port, min(2 * args.n, 8000), args.concurrency))
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache.sqlite" if args.with_cache else None
            typed = asyncio.run(run_baseline(base_url, args.n, args.concurrency, warmup, typed=True))
            baseline = asyncio.run(run_baseline(base_url, args.n, args.concurrency, warmup, typed=False))
            harness_run = run_harness(base_url, args.n, args.concurrency, cache, Path(tmp), warmup)
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                harness = profiler.runcall(asyncio.run, harness_run)
                profiler.dump_stats(args.profile)
            else:
                harness = asyncio.run(harness_run)
    finally:
        server.terminate()
        server.join()

    ideal = args.concurrency / (2 * latency_s)
    ideal_requests = args.concurrency / latency_s
    efficiency = harness.rate / ideal
    overhead_ms = harness.cpu_ms - baseline.cpu_ms
    print(f"setup: n={args.n} concurrency={args.concurrency} latency={args.latency_ms:g} ms "
          f"cache={'on' if args.with_cache else 'off'} (2 calls per rollout)")
    print(f"server alone: {raw.rate:8.1f} requests/s ({raw.rate / ideal_requests:.3f} of ideal "
          f"{ideal_requests:.0f}/s)  [raw-socket client, {raw.cpu_ms:.3f} ms CPU/request]")
    print(f"ideal:    {ideal:8.1f} rollouts/s")
    print(f"bare openai client, chat.completions.create: {typed.rate:8.1f} rollouts/s "
          f"({typed.rate / ideal:.3f} of ideal), client CPU {typed.cpu_ms:.3f} ms/rollout")
    print(f"bare openai client, post(cast_to=object):     {baseline.rate:8.1f} rollouts/s "
          f"({baseline.rate / ideal:.3f} of ideal), client CPU {baseline.cpu_ms:.3f} ms/rollout  [baseline]")
    print(f"clue Runner + LLM + openai backend:           {harness.rate:8.1f} rollouts/s "
          f"({efficiency:.3f} of ideal), client CPU {harness.cpu_ms:.3f} ms/rollout")
    print(f"harness overhead: {overhead_ms:.3f} ms CPU/rollout beyond the bare client")
    print(f"efficiency: {efficiency:.2f} overhead_ms: {overhead_ms:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
