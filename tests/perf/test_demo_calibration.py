"""The demo calibration script: end to end on SmolLM2 (plumbing), resumable, and its keep rule."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "perf"
sys.path.insert(0, str(BENCH))

import demo_calibration  # noqa: E402


def _row(pair: str, condition: str, run: int, solved: bool) -> dict[str, object]:
    return {"pair_id": pair, "category": "agentic", "condition": condition, "run": run, "solved": solved}


def test_a_pair_is_kept_when_the_oracle_solves_and_no_memory_fails_in_two_of_three_runs() -> None:
    rows = [_row("keep", "oracle", r, r != 2) for r in range(3)] + [_row("keep", "no-memory", r, r == 0)
                                                                   for r in range(3)]
    rows += [_row("easy", "oracle", r, True) for r in range(3)] + [_row("easy", "no-memory", r, r != 0)
                                                                  for r in range(3)]
    rows += [_row("half", "oracle", 0, True), _row("half", "no-memory", 0, False)]  # 1 run of 3: undecided
    results = {(r["pair_id"], r["condition"], r["run"]): r for r in rows}
    args = argparse.Namespace(prompts=[], runs=3)
    table = demo_calibration.report(results, args)  # type: ignore[arg-type]
    assert "| keep | 1/3 | 2/3 | yes |" in table
    assert "| easy | 2/3 | 3/3 | no |" in table
    assert "| half | 0/1 | 1/1 | no |" in table
    assert table.endswith("agentic: 1 of 3 kept")


@pytest.mark.model
def test_the_calibration_runs_on_a_real_model_and_continues_where_it_stopped(tmp_path: Path) -> None:
    command = [sys.executable, str(BENCH / "demo_calibration.py"), "--model", "smollm2-135m", "--runs", "1",
               "--prompts", "simple", "--pairs", "demo-pers-02,demo-agent-20", "--out", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    lines = [json.loads(line) for line in (tmp_path / "calibration.jsonl").read_text().splitlines()]
    assert {(row["pair_id"], row["condition"]) for row in lines} == {
        (pair, condition) for pair in ("demo-pers-02", "demo-agent-20")
        for condition in ("no-memory", "oracle", "simple")}
    oracle = next(row for row in lines if row["condition"] == "oracle" and row["pair_id"] == "demo-pers-02")
    assert oracle["memory"] == "The user's sister is named Marisol."
    assert all(row["reply"].startswith("<answer>") for row in lines)  # the demo's answer grammar applies
    assert "| demo-pers-02 |" in first.stdout and "personalization:" in first.stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and " run 0: " not in again.stdout  # nothing re-run
    assert len((tmp_path / "calibration.jsonl").read_text().splitlines()) == len(lines)
