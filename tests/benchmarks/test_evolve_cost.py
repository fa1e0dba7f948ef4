"""The cost benchmark must keep working as the optimizers change: CluE's round stays within the target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "evolve_cost.py"


async def test_clue_round_at_the_defaults_stays_within_212_new_rollouts(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("evolve_cost", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["evolve_cost"] = module
    spec.loader.exec_module(module)
    assert await module.main(80, tmp_path) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("clue_rollouts_per_round: ")
    rollouts = int(last.split(": ")[1])
    assert 105 < rollouts <= 212, "a round must run the tournament and finals, within the target"
