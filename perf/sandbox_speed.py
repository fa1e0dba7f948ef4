"""What the sandbox costs per run, and BigCodeBench's canonical solutions through the real evaluator.

    .venv/bin/python perf/sandbox_speed.py [--runs 10] [--sample 20] [--concurrency 2] [--seed 0]

Start-up overhead: the same trivial program (`pass`) run plainly as a subprocess and through the sandbox
(launcher, bubblewrap namespaces, limits, private working directory), one at a time.
BigCodeBench: a random sample of tasks, each task's canonical solution checked against its unit tests
exactly as `clue rescore --dataset bigcodebench` does; prints the pass rate and seconds per task, and the
failures with their reason (a missing library shows as ModuleNotFoundError).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time

from clue.bench.sandbox.bigcodebench import CHECK_LIMITS, check_solution, default_env_root, load_tasks
from clue.bench.sandbox.isolation import Sandbox, SandboxLimits, detect_isolation


async def startup_overhead(runs: int) -> None:
    plain: list[float] = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        plain.append(time.monotonic() - started)
    sandbox = Sandbox(SandboxLimits(wall_seconds=60))
    sandboxed: list[float] = []
    for _ in range(runs):
        result = await sandbox.run_python("pass")
        assert result.ok, result.stderr
        sandboxed.append(result.seconds)
    plain_ms, sandboxed_ms = 1000 * statistics.median(plain), 1000 * statistics.median(sandboxed)
    print(f"python -c pass, plain:     {plain_ms:7.1f} ms per run (median of {runs})")
    print(f"python -c pass, sandboxed: {sandboxed_ms:7.1f} ms per run (median of {runs})")
    print(f"sandbox start-up overhead: {sandboxed_ms - plain_ms:7.1f} ms per run")


async def canonical_pass_rate(sample: int, concurrency: int, seed: int) -> None:
    tasks = load_tasks(default_env_root())
    chosen = random.Random(seed).sample(sorted(tasks), min(sample, len(tasks)))
    sandbox = Sandbox(CHECK_LIMITS, concurrency=concurrency)

    async def one(task_id: str) -> tuple[str, float, bool, str]:
        outcome = await check_solution(tasks[task_id], tasks[task_id].canonical_code, sandbox)
        first = outcome.detail.splitlines()[0] if outcome.detail else ""
        seconds = outcome.run.seconds if outcome.run else 0.0  # in the sandbox, not waiting for a slot
        return task_id, seconds, outcome.passed, f"{outcome.status} {first}".strip()

    started = time.monotonic()
    results = await asyncio.gather(*(one(task_id) for task_id in chosen))
    wall = time.monotonic() - started
    passed = sum(ok for _, _, ok, _ in results)
    for task_id, _, ok, reason in results:
        if not ok:
            print(f"  failed {task_id}: {reason[:150]}")
    seconds = [s for _, s, _, _ in results]
    print(f"BigCodeBench canonical solutions: passed {passed}/{len(results)} ({passed / len(results):.1%}); "
          f"{statistics.median(seconds):.1f} s median per task, {wall:.1f} s wall at concurrency {concurrency}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    isolation = detect_isolation()
    if not isolation.available:
        raise SystemExit(f"no sandbox here: {isolation.reason}")
    limiter = "a per-run pids cgroup" if isolation.pids_cgroup else "RLIMIT_NPROC"
    print(f"isolation: bubblewrap ({isolation.bwrap}), process limit by {limiter}")
    await startup_overhead(args.runs)
    await canonical_pass_rate(args.sample, args.concurrency, args.seed)


if __name__ == "__main__":
    asyncio.run(main())
