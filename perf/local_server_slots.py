"""Aggregate decode throughput of the embedded model served by llama-server with 1, 2 and 4 slots.

    .venv/bin/python perf/local_server_slots.py [--model qwen2.5-coder-1.5b] [--slots 1,2,4]

For each slot count clue starts llama-server (`LocalServerBackend`, as `local_slots = N` does), sends as
many concurrent requests as there are slots, each decoding exactly --decode-tokens tokens (EOS ignored)
after a short prompt, and prints the tokens decoded per second of wall time over all of them.
Needs `make local-server`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import aiohttp

from clue.llm.backends.local_server import LocalServerBackend
from clue.llm.weights import DEFAULT_LOCAL_MODEL, MODELS


async def aggregate_decode(model: str, slots: int, decode_tokens: int, n_ctx: int) -> tuple[float, float]:
    """(aggregate decode tok/s over wall time, mean per-request decode tok/s as llama-server reports it)."""
    backend = LocalServerBackend(slots=slots, n_ctx=n_ctx)
    try:
        base_url = await backend.start(model)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as http:
            async def one(index: int) -> dict[str, float]:
                body = {"prompt": f"Request {index}: list facts about the number {index}.\n",
                        "n_predict": decode_tokens, "ignore_eos": True, "temperature": 0.0, "cache_prompt": False}
                async with http.post(f"{base_url}/completion", json=body) as response:
                    reply = await response.json()
                return dict(reply["timings"])

            await one(-1)  # warm-up
            started = time.perf_counter()
            timings = await asyncio.gather(*(one(index) for index in range(slots)))
            wall = time.perf_counter() - started
    finally:
        await backend.aclose()
    decoded = sum(int(t["predicted_n"]) for t in timings)
    return decoded / wall, sum(float(t["predicted_per_second"]) for t in timings) / len(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL, choices=sorted(MODELS))
    parser.add_argument("--slots", default="1,2,4")
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--n-ctx", type=int, default=2048, help="context per slot")
    args = parser.parse_args()
    print(f"{args.model}, {args.decode_tokens} decoded tokens per request, one request per slot")
    for slots in (int(part) for part in args.slots.split(",")):
        load = os.getloadavg()[0]
        total, each = asyncio.run(aggregate_decode(args.model, slots, args.decode_tokens, args.n_ctx))
        print(f"slots {slots}: aggregate decode {total:7.1f} tok/s, per request {each:6.1f} tok/s "
              f"(load average {load:.2f})")


if __name__ == "__main__":
    main()
