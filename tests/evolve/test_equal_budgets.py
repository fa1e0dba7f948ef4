"""Equal budgets are equal: all four methods on the same scripted world and budget. No method starts a unit
(round, iteration, sample) it cannot finish, each stops within one unit of the budget, every unit it ran is
in the run log, and the methods' spend differs by less than one round."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from clue.bench.run.record import read_runlog
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.evolve.budget import Budget
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import EvolutionJob, EvolutionOutcome, run_evolution
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

from .conftest import ROLE_ENV, TASK, World, fake_info, fake_tasks, kind_of, make_pairs, rewrite_reply

METHODS = ["clue", "memevolve", "gepa", "ace"]
# Enough rounds, epochs and pairs that only the budget ends a run.
SETTINGS = EvolveSettings(rounds=100, batch=6, candidates=3, top=2, resample=2, ace_epochs=100)
ROUND = 6 + 3 * 6 + 2 * (2 + 6)  # a CluE/MemEvolve round's worst case: baseline, 3 candidates, 2 finalists' finals
WORST = {"clue": ROUND, "memevolve": ROUND, "gepa": 2 * 5 + 15, "ace": 1 + 3 + 1}  # 30 pairs: 15 validate GEPA


class Endless(World):
    """Every proposal is new text (so nothing is served from the store twice) and every fifth pair cannot be
    solved (so no prompt is ever perfect and GEPA always has something to reflect on)."""

    def __call__(self, call: ScriptedCall) -> str:
        kind = kind_of(call)
        n = sum(self.counts.values())
        if kind == "solve":
            match = TASK.search(call.messages[-1]["content"])
            if match and int(re.sub(r"\D", "", match.group(2))) % 5 == 0:
                self.counts["solve"] += 1
                return "<answer>unknown</answer>"
        if kind == "synthesize":
            self.counts["synthesize"] += 1
            edit = {"rationale": "r", "edits": [{"section": "## Guidelines", "operation": "append",
                                                 "text": f"- KEEP-NUMBERS and KEEP-NAMES (rule {n})."}]}
            return json.dumps(rewrite_reply(edit, call.messages[-1]["content"]))
        if kind == "curate":
            self.counts["curate"] += 1
            return json.dumps({"reasoning": "r", "operations": [
                {"type": "ADD_BULLET", "section": "gen", "content": f"KEEP-NUMBERS and KEEP-NAMES (rule {n})."}]})
        if kind == "gepa-reflect":
            self.counts["gepa-reflect"] += 1
            current = re.search(r"```\n(.*?)\n```", call.messages[-1]["content"], re.DOTALL)
            return f"```\n{current.group(1) if current else ''}\n- KEEP-NUMBERS and KEEP-NAMES (rule {n}).\n```"
        return super().__call__(call)


async def evolve(run_dir: Path, method: str, budget: Budget) -> EvolutionOutcome:
    llm = LLM(load_settings(env=dict(ROLE_ENV)), backend=ScriptedBackend(Endless()), cache=None)
    job = EvolutionJob(method, load_prompt("simple"), make_pairs(30), [], SETTINGS, budget, run_dir)
    return await run_evolution(job, llm, runner=Runner(llm, tasks=fake_tasks, info=fake_info))


def units_run(run_dir: Path, method: str) -> int:
    """Units the method's own state says it finished (GEPA: the seed's validation plus each iteration)."""
    state: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
    if method == "gepa":
        return int(state["iterations"]) + 1
    if method == "ace":
        return int(state["samples_done"])
    return int(state["completed_rounds"])


def check_recorded(run_dir: Path, method: str) -> None:
    evolution = read_runlog(run_dir).evolution
    assert evolution is not None
    rounds = [p.round for p in evolution.progress]
    assert rounds == list(range(1, units_run(run_dir, method) + 1)), (method, rounds)
    assert all(p.complete for p in evolution.progress)
    spent = [p.rollouts_spent for p in evolution.progress]
    assert spent == sorted(spent)


@pytest.mark.parametrize("rollouts", [12, 60, 200])
async def test_equal_rollout_budgets_are_spent_alike_and_every_unit_is_recorded(tmp_path: Path,
                                                                                 rollouts: int) -> None:
    spent: dict[str, int] = {}
    for method in METHODS:
        run_dir = tmp_path / method
        outcome = await evolve(run_dir, method, Budget(max_rollouts=rollouts))
        used = outcome.budget["rollouts_spent"]
        assert used is not None and used <= rollouts
        spent[method] = used
        # It stopped before a unit that could not finish, saying so, with less than that unit left.
        stopped = outcome.optimization.stopped_by
        match = re.fullmatch(r"budget: rollout budget: (.+) needs up to (\d+) rollouts, (\d+) of (\d+) left",
                             stopped)
        assert match is not None, (method, stopped)
        # (A unit's worst case counts only rollouts the store lacks; GEPA's first unit is the seed's validation.)
        needed, left = int(match.group(2)), int(match.group(3))
        assert needed <= WORST[method] and left == rollouts - used < needed
        if used:
            check_recorded(run_dir, method)
    assert max(spent.values()) - min(spent.values()) < ROUND, spent


async def test_an_equal_token_budget_is_spent_alike(tmp_path: Path) -> None:
    budget = 60_000
    spent: dict[str, int] = {}
    largest: dict[str, int] = {}
    for method in METHODS:
        run_dir = tmp_path / method
        outcome = await evolve(run_dir, method, Budget(max_tokens=budget))
        stopped = outcome.optimization.stopped_by
        match = re.fullmatch(r"budget: token budget: (.+) may need (\d+) tokens \(the largest unit so far\), "
                             r"(\d+) of (\d+) left", stopped)
        assert match is not None, (method, stopped)
        used = outcome.budget["tokens_spent"]
        assert used is not None and used <= budget and budget - used == int(match.group(3)) < int(match.group(2))
        spent[method], largest[method] = used, int(match.group(2))
        check_recorded(run_dir, method)
    assert max(spent.values()) - min(spent.values()) < max(largest.values()), (spent, largest)
