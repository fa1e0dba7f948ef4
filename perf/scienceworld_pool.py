"""What a JVM start costs ScienceWorld, and what a warm supply of fresh simulators buys.

Every episode needs a never-used simulator (a JVM), as the reference does. Measured here:
- the cost of one JVM start, and of loading a task and resetting on it;
- the memory one idle spare JVM holds;
- the wall time of the same (shortest) released episodes played one after another with `spare` = 0 (start the JVM at
  reset) and with `spare` = 1, 2 (the next JVMs start in the background while an episode runs), and how much
  of it each episode spent waiting at reset.

    .venv/bin/python perf/scienceworld_pool.py [--episodes 3] [--starts 2] [--spares 0,1]

The last line is `spare_speedup: X` (episode wall time with spare 0 / with the largest spare measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from clue.bench.envs.replay import released_runs, replay
from clue.bench.envs.scienceworld import SIMPLIFICATIONS, SPEC, ScienceWorldEnvironment
from clue.bench.envs.scienceworld_supply import SimulatorSupply, start_simulator, stop_simulator

CHECKOUT = Path(__file__).resolve().parents[1]


def resident_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_start(starts: int) -> None:
    start_seconds, load_seconds, memory = [], [], []
    for _ in range(starts):
        began = time.perf_counter()
        simulator = start_simulator()
        started = time.perf_counter()
        memory.append(resident_megabytes(simulator._gateway.java_process.pid))  # type: ignore[attr-defined]
        simulator.load("boil", 0, simplificationStr=SIMPLIFICATIONS)
        simulator.reset()
        simulator.inventory()
        load_seconds.append(time.perf_counter() - started)
        start_seconds.append(started - began)
        stop_simulator(simulator)
    print(f"jvm start: {sum(start_seconds) / starts:.2f} s (mean of {starts}); "
          f"load + reset: {sum(load_seconds) / starts:.2f} s; idle JVM resident memory: "
          f"{sum(memory) / starts:.0f} MB", flush=True)


def measure_episodes(data_root: Path, env_root: Path, episodes: int, spare: int) -> float:
    # the shortest released episodes: start-up is what differs between the supplies
    runs = sorted(released_runs(data_root, "scienceworld"), key=lambda run: run[1]["num_steps"])[:episodes]
    supply = SimulatorSupply(spare=spare)
    spec = dataclasses.replace(SPEC, make=lambda root: ScienceWorldEnvironment(supply))
    supply.prime()
    began = time.perf_counter()
    waits = steps = 0.0
    try:
        for target, output in runs:
            result = replay(spec, env_root, target, SPEC.parse_transcript(output))
            waits += result.reset_seconds
            steps += result.steps
    finally:
        supply.close()
    per_episode = (time.perf_counter() - began) / len(runs)
    print(f"spare {spare}: {per_episode:.2f} s per episode ({len(runs)} episodes, {steps / len(runs):.1f} steps "
          f"each), of which waiting at reset {waits / len(runs):.2f} s", flush=True)
    return per_episode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--spares", default="0,1")
    parser.add_argument("--data-root", type=Path, default=CHECKOUT.parent / "shared" / "behemoth")
    parser.add_argument("--env-root", type=Path, default=CHECKOUT.parent / "shared" / "agentic")
    args = parser.parse_args(argv)
    problem = SPEC.missing(args.env_root)
    if problem:
        print(f"scienceworld: skipped, {problem}")
        return 1
    measure_start(args.starts)
    spares = [int(part) for part in args.spares.split(",")]
    timings = {spare: measure_episodes(args.data_root, args.env_root, args.episodes, spare) for spare in spares}
    print(f"spare_speedup: {timings[spares[0]] / timings[spares[-1]]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
