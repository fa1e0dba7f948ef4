"""How close does a run come to the endpoint's limit? Extract-then-solve rollouts against one fake server.

The fake server (perf/harness_overhead.py's, in its own process) answers every request after a fixed
latency L and works on at most C requests at once, like a server with C batch slots. The real `Runner`
with the openai backend runs N rollouts (extract, then solve: 2 calls each) with C calls in flight at most.

The endpoint-limited ideal is the total call latency over the concurrency, 2·N·L / C: the time the server
needs if none of its slots is ever idle. Each rollout is a chain (its solve waits for its extraction), so
the last rollouts can leave slots idle; the printed ratio wall / ideal shows how much.

Two endpoints are measured: `inproc`, a simulated endpoint inside the process (a backend that holds one
of C server slots for L seconds per call: the real runner, client, ranking and limits, without HTTP, so
the ratio is the scheduling's alone), and `http`, the fake server over loopback (the harness's CPU per call
shows up too, and on a busy machine it dominates).

The last line is `ratio_cC: R ...`, one entry per concurrency (the in-process endpoint's).

    .venv/bin/python perf/chain_scheduling.py [--n 80] [--concurrency 8 32] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness_overhead import BenchTask, fake_servers, make_pairs, run_harness


class SimulatedEndpoint:
    """A Backend standing for a server with `slots` parallel slots and a fixed latency per call; requests
    beyond the slots wait in arrival order, as at a real server."""

    name = "simulated"

    def __init__(self, slots: int, latency_s: float) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.latency_s = latency_s

    async def complete(self, model: str, messages: list[Any], decoding: Any, json_schema: Any = None,
                       grammar: str | None = None) -> Any:
        from clue.llm.types import Completion

        async with self.slots:
            await asyncio.sleep(self.latency_s)
        return Completion(text="- The user likes short answers.\n<answer>A</answer>", prompt_tokens=200,
                          completion_tokens=20, latency_s=self.latency_s)

    def count_tokens(self, model: str, text: str) -> int:
        return len(text) // 3 + 1

    def context_size(self, model: str) -> int | None:
        return 32768

    async def aclose(self) -> None:
        return None


async def run_simulated(n: int, concurrency: int, latency_s: float, queue_ahead: int | None) -> float:
    """Wall seconds for `n` rollouts through the real Runner and LLM client against a SimulatedEndpoint."""
    from clue.config import load_settings
    from clue.llm.client import LLM
    from clue.llm.types import ROLES

    settings = load_settings(env={}, cli={"backend": "openai", "base_url": "http://simulated/v1", "model": "m"},
                             no_cache=True, role_overrides={role: {"concurrency": concurrency,
                                                                   "queue_ahead": queue_ahead} for role in ROLES})
    llm = LLM(settings, backend=SimulatedEndpoint(concurrency, latency_s))
    return await timed_rollouts(llm, n, concurrency)


async def timed_rollouts(llm: Any, n: int, concurrency: int) -> float:
    """Wall seconds for `n` simulated extract-then-solve rollouts through the real runner (closes `llm`)."""
    from clue.bench.run.runner import Runner
    from clue.memory.prompts import ExtractionPrompt, builtin_prompt_text

    task = BenchTask()
    runner = Runner(llm, tasks=lambda dataset: task,  # type: ignore[arg-type,return-value]
                    info=lambda dataset: ("personalization", False), concurrency=concurrency)
    prompt = ExtractionPrompt("simple", builtin_prompt_text("simple"))
    started = time.perf_counter()
    rollouts = await runner.evaluate(prompt, make_pairs(n))
    wall = time.perf_counter() - started
    await llm.aclose()
    if any(r.error or r.reward != 1.0 for r in rollouts):
        raise SystemExit("simulated rollouts went wrong")
    return wall


def measure_http(n: int, concurrency: int, latency_s: float, queue_ahead: int | None) -> tuple[float, float]:
    """(wall seconds, ideal seconds) for `n` rollouts at `concurrency` against a server with that many slots."""
    with fake_servers(latency_s, 1, slots=concurrency) as urls, tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_harness(urls[0], n, concurrency, None, Path(tmp), warmup=concurrency,
                                         queue_ahead=queue_ahead))
    return result.wall_s, 2 * n * latency_s / concurrency


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=80, help="rollouts (extract + solve) per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32], help="endpoint slots")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="fake server latency per call")
    parser.add_argument("--queue-ahead", type=int, default=None, help="requests kept waiting at the server "
                        "beyond its slots (default: clue's, a quarter of the slots)")
    parser.add_argument("--no-http", action="store_true", help="only the in-process simulated endpoint")
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000
    ratios = []
    for concurrency in args.concurrency:
        ideal = 2 * args.n * latency_s / concurrency
        wall = asyncio.run(run_simulated(args.n, concurrency, latency_s, args.queue_ahead))
        ratios.append((concurrency, wall / ideal))
        print(f"inproc n={args.n} concurrency={concurrency} latency={args.latency_ms:g} ms: wall {wall:.2f} s, "
              f"ideal {ideal:.2f} s (2·n·latency / concurrency), ratio {wall / ideal:.3f}")
        if not args.no_http:
            wall, ideal = measure_http(args.n, concurrency, latency_s, args.queue_ahead)
            print(f"http   n={args.n} concurrency={concurrency} latency={args.latency_ms:g} ms: wall {wall:.2f} s, "
                  f"ideal {ideal:.2f} s, ratio {wall / ideal:.3f}")
    print(" ".join(f"ratio_c{c}: {r:.3f}" for c, r in ratios))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
