"""Small runs of the scheduling and endpoint-scaling benchmarks: they run end to end and print their ratios.

The in-process simulated endpoints measure clue's scheduling alone, so even a small run must come close
to the ideal; the full-size numbers are in the README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PERF = Path(__file__).resolve().parents[2] / "perf"


def run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(PERF / script), *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_chain_scheduling_fills_the_last_wave() -> None:
    last = run("chain_scheduling.py", "--n", "40", "--concurrency", "16", "--latency-ms", "200", "--no-http")
    match = re.fullmatch(r"ratio_c16: (\d+\.\d+)", last)
    assert match is not None, last
    # 40 chains on 16 slots: 5 waves of 200 ms at best; depth-first alone would need 6 (ratio 1.2).
    assert 0.99 <= float(match.group(1)) < 1.15


def test_two_endpoints_nearly_double_the_throughput() -> None:
    last = run("endpoint_scaling.py", "--n", "96", "--concurrency", "8", "--latency-ms", "200", "--no-http")
    match = re.fullmatch(r"scaling: (\d+\.\d+) ratio_to_twice: (\d+\.\d+)", last)
    assert match is not None, last
    assert float(match.group(2)) > 0.8
