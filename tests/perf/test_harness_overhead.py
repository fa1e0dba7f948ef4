"""A small run of the harness-overhead benchmark: it must run end to end and print its closing line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "perf" / "harness_overhead.py"


def test_harness_overhead_runs_and_prints_efficiency_and_overhead() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--n", "60", "--concurrency", "8", "--latency-ms", "5"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"efficiency: (\d+\.\d\d) overhead_ms: (-?\d+\.\d\d)", last)
    assert match is not None, last
    assert 0.0 < float(match.group(1)) <= 1.5
