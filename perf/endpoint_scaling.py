"""Does a second endpoint double the throughput? The same rollouts against one endpoint, then two.

Each endpoint answers every call after a fixed latency and works on at most C calls at once (its slots);
calls beyond wait in order. The real `Runner` and LLM client run N rollouts (extract + solve) first
against one endpoint, then against two (the pool: each call goes to the least loaded endpoint).

Two kinds of endpoint are measured: `inproc`, simulated inside the process (perf/chain_scheduling.py's
SimulatedEndpoint: the runner, client, pool and limits without HTTP), and `http`, fake servers each in
its own process over loopback (the harness's CPU per call shows up too; on a busy machine it dominates).

The last line is `scaling: S ratio_to_twice: R` for the in-process endpoints (S = two-endpoint rate /
one-endpoint rate, R = S / 2).

    .venv/bin/python perf/endpoint_scaling.py [--n 320] [--concurrency 16] [--latency-ms 200] [--no-http]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from chain_scheduling import SimulatedEndpoint, timed_rollouts
from harness_overhead import fake_servers, run_harness


class SimulatedServer(SimulatedEndpoint):
    """A SimulatedEndpoint with what the pool needs of a member: its URL and idle limit."""

    def __init__(self, url: str, slots: int, latency_s: float) -> None:
        super().__init__(slots, latency_s)
        self.base_url = url
        self.timeout_s = 180.0


async def run_simulated(servers: int, n: int, concurrency: int, latency_s: float) -> float:
    """Rollouts per second through the real Runner and LLM client against `servers` simulated endpoints."""
    from clue.config import load_settings
    from clue.llm.client import LLM
    from clue.llm.endpoints import EndpointPool
    from clue.llm.types import ROLES

    urls = [f"http://simulated-{i}/v1" for i in range(servers)]
    settings = load_settings(env={}, cli={"backend": "openai", "base_url": urls, "model": "m"}, no_cache=True,
                             role_overrides={role: {"concurrency": concurrency} for role in ROLES})
    config = settings.role("extractor")
    members: list[tuple[str, Any, int]] = [
        (url, SimulatedServer(url, concurrency, latency_s), config.in_flight_limit(concurrency)) for url in urls]
    pool = EndpointPool(members)
    llm = LLM(settings, backend=pool)
    return n / await timed_rollouts(llm, n, concurrency)


def run_http(servers: int, n: int, concurrency: int, latency_s: float) -> float:
    with fake_servers(latency_s, servers, slots=concurrency) as urls, tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run_harness(",".join(urls), n, concurrency, None, Path(tmp),
                                       warmup=2 * concurrency)).rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=320, help="rollouts (extract + solve) per measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="slots per endpoint")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="latency per call")
    parser.add_argument("--no-http", action="store_true", help="only the in-process simulated endpoints")
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000
    limit = args.concurrency / (2 * latency_s)
    print(f"n={args.n} concurrency={args.concurrency} per endpoint, latency={args.latency_ms:g} ms, "
          f"one endpoint's limit {limit:.1f} rollouts/s")
    kinds = [("inproc", run_simulated_sync)] + ([] if args.no_http else [("http", run_http)])
    closing = ""
    for kind, run in kinds:
        one = run(1, args.n, args.concurrency, latency_s)
        two = run(2, args.n, args.concurrency, latency_s)
        scaling = two / one
        print(f"{kind:6} one endpoint: {one:7.1f} rollouts/s ({one / limit:.3f} of its limit); two endpoints: "
              f"{two:7.1f} rollouts/s ({two / (2 * limit):.3f} of theirs); scaling {scaling:.2f}x "
              f"({scaling / 2:.3f} of twice)")
        closing = closing or f"scaling: {scaling:.2f} ratio_to_twice: {scaling / 2:.3f}"
    print(closing)
    sys.stdout.flush()


def run_simulated_sync(servers: int, n: int, concurrency: int, latency_s: float) -> float:
    return asyncio.run(run_simulated(servers, n, concurrency, latency_s))


if __name__ == "__main__":
    main()
