"""How much does clue's harness cost on top of the model? Rollouts through the real runner vs a fake server.

A fake OpenAI-compatible server runs in a separate process (a minimal asyncio HTTP/1.1 server with
keep-alive) and answers every chat.completions request after a fixed latency. The real `Runner` with the
`openai` backend then runs N rollouts (extract + solve: 2 calls each) at concurrency C.

Printed:
- throughput achieved vs ideal, where ideal = C / (2 x latency) rollouts/s;
- client CPU per rollout (`time.process_time`, the server's CPU is in the other process);
- the same for the bare openai client doing 2 calls per rollout at the same concurrency (baseline);
- harness overhead per rollout = client CPU per rollout minus the baseline's.

The last line is `efficiency: E overhead_ms: O` (E = achieved / ideal throughput, O = harness ms/rollout).

    .venv/bin/python bench/harness_overhead.py [--n 2000] [--concurrency 64] [--latency-ms 20] [--with-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# --- the fake server (runs in its own process; stdlib only) ----------------------------------------------

_REPLY_TEXT = "- The user prefers short answers.\n- The user works with Python.\n<answer>A</answer>"


def _canned_response() -> bytes:
    body = json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": _REPLY_TEXT},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
    }).encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n").encode()
    return head + body


class _FakeChatProtocol(asyncio.Protocol):
    """One keep-alive connection: each complete request is answered `latency_s` after it arrived."""

    def __init__(self, latency_s: float, response: bytes) -> None:
        self.latency_s = latency_s
        self.response = response
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
            self.loop.call_later(self.latency_s, self._respond)

    def _respond(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.response)


def serve(latency_s: float, ready: Connection) -> None:
    """Process entry point: bind a free loopback port, report it through `ready`, serve forever."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        response = _canned_response()
        server = await loop.create_server(lambda: _FakeChatProtocol(latency_s, response), "127.0.0.1", 0,
                                          backlog=1024)
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


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
    from clue.bench.records import Pair, Turn

    turns = [Turn(role=role, content=text) for role, text in SOURCE_TURNS]
    return [Pair(dataset="Bench", subset="Bench", source_id=i, target_id=i, source_messages=turns,
                 target={"id": i, "question": f"Which neighbourhood fits me best (case {i})?", "truth": "A"})
            for i in range(n)]


class BenchTask:
    """A trivial task: the query comes from the target, the score is a pure function of the reply."""

    def query_messages(self, pair: Any) -> list[Any]:
        return [{"role": "user", "content": pair.target["question"] + " End with <answer>X</answer>."}]

    async def score(self, pair: Any, solver_text: str, judge: Any) -> Any:
        from clue.bench.scorers.score import Score

        return Score(1.0 if f"<answer>{pair.target['truth']}</answer>" in solver_text else 0.0)


async def run_harness(base_url: str, n: int, concurrency: int, cache_path: Path | None,
                      store_dir: Path, warmup: int) -> Measure:
    from clue.bench.rollouts import RolloutStore
    from clue.bench.runner import Runner
    from clue.config import load_settings
    from clue.llm.client import LLM
    from clue.llm.types import ROLES
    from clue.memory.prompts import ExtractionPrompt, builtin_prompt_text

    env = {"CLUE_CACHE": str(cache_path)} if cache_path else {}
    settings = load_settings(cli={"backend": "openai", "base_url": base_url, "model": "fake"}, env=env,
                             no_cache=cache_path is None,
                             role_overrides={role: {"concurrency": concurrency} for role in ROLES})
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


async def run_baseline(base_url: str, n: int, concurrency: int, warmup: int) -> Measure:
    """The bare openai client: 2 sequential calls per rollout, C rollouts at a time, nothing else."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=600.0)
    gate = asyncio.Semaphore(concurrency)
    source = "\n".join(f"<{role}>\n{text}\n</{role}>" for role, text in SOURCE_TURNS)

    async def rollout(i: int) -> None:
        async with gate:
            extract = await client.chat.completions.create(
                model="fake", messages=[{"role": "system", "content": "Extract."},
                                        {"role": "user", "content": source}],
                temperature=0.6, top_p=0.95, max_tokens=384, seed=42)
            await client.chat.completions.create(
                model="fake", messages=[{"role": "system", "content": extract.choices[0].message.content or ""},
                                        {"role": "user", "content": f"question {i}"}],
                temperature=0.7, top_p=0.8, max_tokens=512, seed=42)

    try:
        await asyncio.gather(*(rollout(i) for i in range(warmup)))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(rollout(i) for i in range(n)))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await client.close()
    return Measure(wall, cpu, n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        base_url = f"http://127.0.0.1:{receive.recv()}/v1"
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache.sqlite" if args.with_cache else None
            baseline = asyncio.run(run_baseline(base_url, args.n, args.concurrency, warmup))
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                harness = profiler.runcall(asyncio.run, run_harness(base_url, args.n, args.concurrency, cache,
                                                                    Path(tmp), warmup))
                profiler.dump_stats(args.profile)
            else:
                harness = asyncio.run(run_harness(base_url, args.n, args.concurrency, cache, Path(tmp), warmup))
    finally:
        server.terminate()
        server.join()

    ideal = args.concurrency / (2 * latency_s)
    efficiency = harness.rate / ideal
    overhead_ms = harness.cpu_ms - baseline.cpu_ms
    print(f"setup: n={args.n} concurrency={args.concurrency} latency={args.latency_ms:g} ms "
          f"cache={'on' if args.with_cache else 'off'} (2 calls per rollout)")
    print(f"ideal:    {ideal:8.1f} rollouts/s")
    print(f"baseline: {baseline.rate:8.1f} rollouts/s ({baseline.rate / ideal:.3f} of ideal), "
          f"client CPU {baseline.cpu_ms:.3f} ms/rollout  [bare openai client]")
    print(f"harness:  {harness.rate:8.1f} rollouts/s ({efficiency:.3f} of ideal), "
          f"client CPU {harness.cpu_ms:.3f} ms/rollout  [clue Runner + LLM + openai client]")
    print(f"harness overhead: {overhead_ms:.3f} ms CPU/rollout beyond the bare client")
    print(f"efficiency: {efficiency:.2f} overhead_ms: {overhead_ms:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
