"""Small runs of the embedded-model speed benchmarks on SmolLM2: each runs end to end and prints its lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

BENCH = Path(__file__).resolve().parents[2] / "perf"
SMALL = ["--model", "smollm2-135m", "--prompt-tokens", "64", "--decode-tokens", "8", "--repeats", "1"]


def run(script: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


def test_local_model_speed_ends_with_the_contention_line_and_stops_its_busy_processes() -> None:
    lines = run("local_model_speed.py", *SMALL, "--no-chat", "--busy", "2", "--busy-seconds", "60")
    match = re.fullmatch(r"contention_ratio: (\d+\.\d{3}) idle_prefill_tps: (\d+\.\d)", lines[-1])
    assert match is not None, lines[-1]
    assert float(match.group(1)) > 0 and float(match.group(2)) > 0
    assert "GOMP_SPINCOUNT=10000" in lines[0] and "decode: free cores" in lines[0]
    leftover = subprocess.run(["pgrep", "-f", "while time.monotonic"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "the busy processes must be stopped"


def test_the_wait_policy_sweep_prints_one_row_per_variant() -> None:
    lines = run("omp_wait_policy.py", *SMALL, "--variants", "libgomp,clue", "--busy", "1")
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"libgomp", "clue"}
    assert all("failed" not in row for row in rows.values()), rows


def test_two_processes_both_finish_and_print_the_ratio() -> None:
    lines = run("two_processes.py", "--model", "smollm2-135m", "--calls", "1", "--max-tokens", "8")
    assert sum(line.startswith("worker ") for line in lines) == 2
    match = re.fullmatch(r"two_process_ratio: (\d+\.\d{3})", lines[-1])
    assert match is not None and float(match.group(1)) > 0, lines[-1]
