"""A small run of the agentic replay benchmark: it replays released transcripts and prints its two lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "perf" / "agentic_replay.py"


def test_agentic_replay_prints_fidelity_and_speed_for_babyai() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--datasets", "babyai", "--ids", "0,5,28,31"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    fidelity, speed = done.stdout.strip().splitlines()[-2:]
    assert fidelity == ("babyai: observations identical: 38/38, outcomes identical: 4/4, "
                        "initial observations identical: 4/4")
    assert re.fullmatch(r"babyai: environment seconds per step: \d+\.\d{4} \(start-up \d+\.\d\d s per episode, "
                        r"\d+\.\d s wall for 4 episodes\)", speed), speed


def test_agentic_replay_names_a_dataset_it_does_not_know() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--datasets", "babyai,nonexistent-env", "--limit", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "nonexistent-env: skipped, not an agentic dataset (known: " in done.stdout
    assert "babyai: observations identical: 6/6, outcomes identical: 1/1" in done.stdout
