"""Two clue processes on the embedded model at once: does each keep its share of the machine?

    .venv/bin/python perf/two_processes.py [--model smollm2-135m] [--calls 6] [--plain-llama]

Each worker is a separate Python process that loads the model through `LocalBackend`, as `clue eval`
does, and makes --calls chat calls (a ~500-token prompt, --max-tokens tokens of reply, prefix reuse off
so every call pays its full prefill). First one worker runs alone, then two run at once. The table gives
each worker's tokens per second (prompt + reply) and wall time; the last line is
`two_process_ratio: X` = the slower worker's throughput beside the other ÷ one worker's alone. On a
machine with as many cores as one worker's threads, 0.5 is a fair share; `--plain-llama` shows what
llama-cpp-python does on its own (libgomp's default wait policy, every thread for every step).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from clue.llm.backends.llama_runtime import OPENMP_WAIT_VARIABLES
from clue.llm.weights import MODELS

PROMPT = (
    "A user kept notes on their week. Monday: migrated the billing service to the new queue and found two\n"
    "messages delivered twice. Tuesday: wrote an idempotency key check, which fixed it. Wednesday: the\n"
    "staging database ran out of disk; logs were not rotated. Thursday: set up log rotation and an alert.\n"
)


async def worker(model: str, calls: int, max_tokens: int, plain: bool) -> dict[str, float]:
    from clue.llm.backends.local import LocalBackend  # sets clue's wait policy unless the caller set one
    from clue.llm.types import Decoding

    backend = LocalBackend(reuse_prompt_prefix=False, fair_decode_threads=not plain)
    tokens = 0
    try:
        await backend.complete(model, [{"role": "user", "content": "Say hi."}],  # load the model first
                               Decoding(temperature=0.0, max_tokens=4, seed=0))
        started = time.perf_counter()
        for index in range(calls):
            messages = [{"role": "user", "content": f"Week {index}.\n" + PROMPT * 6 + "\nList the lessons."}]
            completion = await backend.complete(model, messages,  # type: ignore[arg-type]
                                                Decoding(temperature=0.0, max_tokens=max_tokens, seed=index))
            tokens += completion.prompt_tokens + completion.completion_tokens
        wall = time.perf_counter() - started
    finally:
        await backend.aclose()
    return {"tokens": tokens, "wall_s": wall, "tps": tokens / wall}


def run_workers(count: int, args: argparse.Namespace) -> list[dict[str, float]]:
    command = [sys.executable, str(Path(__file__)), "--worker", "--model", args.model,
               "--calls", str(args.calls), "--max-tokens", str(args.max_tokens)]
    env = {key: value for key, value in os.environ.items() if key not in OPENMP_WAIT_VARIABLES}
    if args.plain_llama:
        command.append("--plain-llama")
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"worker failed with exit code {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", choices=sorted(MODELS))
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--plain-llama", action="store_true",
                        help="libgomp's default wait policy and fixed threads, as llama-cpp-python alone")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.plain_llama:
            import clue.llm.backends.local  # noqa: F401  (sets clue's spin now; llama_cpp is not loaded yet)

            os.environ.pop("GOMP_SPINCOUNT", None)
        print(json.dumps(asyncio.run(worker(args.model, args.calls, args.max_tokens, args.plain_llama))))
        return
    print(f"{args.model}, {args.calls} calls per worker, {'plain llama-cpp-python' if args.plain_llama else 'clue'}, "
          f"load average {os.getloadavg()[0]:.2f}")
    alone = run_workers(1, args)[0]
    print(f"alone:     {alone['tps']:7.1f} tok/s  {alone['wall_s']:6.1f} s")
    together = run_workers(2, args)
    for index, result in enumerate(together, 1):
        print(f"worker {index}:  {result['tps']:7.1f} tok/s  {result['wall_s']:6.1f} s  (beside the other)")
    print(f"two_process_ratio: {min(result['tps'] for result in together) / alone['tps']:.3f}")


if __name__ == "__main__":
    main()
