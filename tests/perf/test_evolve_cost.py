"""The cost benchmark must keep working as the optimizers change: CluE's round stays within the target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "perf" / "evolve_cost.py"


async def test_clue_rounds_at_the_defaults_cost_230_new_rollouts_each(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("evolve_cost", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["evolve_cost"] = module
    spec.loader.exec_module(module)
    assert await module.main(160, tmp_path) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    numbers = {k: int(v) for k, _, v in (line.partition(": ") for line in lines[-4:])}
    assert list(numbers) == ["clue_rollouts_round1", "clue_rollouts_round2", "clue_tokens_per_round",
                             "clue_rollouts_per_round"]  # the last line stays clue_rollouts_per_round (round 1)
    # base 35 + 3 candidates x 35 + 2 finalists x (10 resampled, re-run as the reference does, + 35 new).
    assert numbers["clue_rollouts_round1"] == numbers["clue_rollouts_per_round"] == 230
    # Round 2's batch is unseen (the cursor moved 70): its base runs afresh, so it costs the same.
    assert numbers["clue_rollouts_round2"] == 230
    assert numbers["clue_tokens_per_round"] > 0
