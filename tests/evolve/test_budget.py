"""Every method stops cleanly at the same budget and returns its best so far; rollout cost per round."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from clue.bench.run.record import read_runlog
from clue.bench.run.rollouts import read_rollouts
from clue.bench.run.runner import Runner
from clue.evolve.budget import Budget
from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.memevolve import MemEvolveOptimizer
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import EvolutionJob, run_evolution
from clue.evolve.state import RunState
from clue.evolve.tournament import TournamentOptimizer
from clue.evolve.watch import RecordingReporter
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

from .conftest import World, fake_info, fake_tasks, make_pairs, make_setup, settings

SMALL = EvolveSettings(rounds=3, batch=6, candidates=3, top=2, resample=2)
METHODS: list[type[TournamentOptimizer]] = [ClueOptimizer, MemEvolveOptimizer]


@pytest.mark.parametrize("method", METHODS)
async def test_a_tiny_rollout_budget_stops_cleanly_with_the_seed(tmp_path: Path,
                                                                 method: type[TournamentOptimizer]) -> None:
    setup = make_setup(tmp_path, World(), Budget(max_rollouts=10))
    reporter = RecordingReporter()
    seed = load_prompt("simple")
    result = await method(reporter).optimize(seed, make_pairs(30), setup.harness, SMALL, tmp_path, False)
    # A round costs up to 6 + 3 x 6 + 2 x 6 = 36: it is never started, so nothing is spent on it.
    assert result.stopped_by == "budget: rollout budget: round 1 needs up to 40 rollouts, 10 of 10 left"
    assert result.best.hash == seed.hash
    assert not (tmp_path / "rollouts.jsonl").exists() or not read_rollouts(tmp_path / "rollouts.jsonl")
    assert setup.harness.meter.rollouts_spent == 0 and setup.backend.calls == []
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    assert state.stopped_by == result.stopped_by and not state.finished and state.rounds == []
    assert state.budget["rollouts_spent"] == 0 and state.budget["max_rollouts"] == 10
    assert ("stopped", result.stopped_by) in reporter.events
    assert (tmp_path / "best_prompt.txt").read_text() == seed.text


@pytest.mark.parametrize("method", METHODS)
async def test_a_one_round_budget_returns_the_round_winner(tmp_path: Path,
                                                           method: type[TournamentOptimizer]) -> None:
    # round 1 costs 6 + 18 + 2 x (2 resampled + 6 new) = 40
    setup = make_setup(tmp_path, World(), Budget(max_rollouts=49))
    result = await method().optimize(load_prompt("simple"), make_pairs(30), setup.harness, SMALL, tmp_path,
                                     False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    assert result.stopped_by == "budget: rollout budget: round 2 needs up to 40 rollouts, 9 of 49 left"
    assert state.completed_rounds == 1 and len(state.rounds) == 1  # round 2 was never started
    assert result.best.hash == state.rounds[0].winner != state.seed_hash
    assert setup.harness.meter.rollouts_spent == 40


@pytest.mark.parametrize("method", METHODS)
async def test_a_token_budget_stops_before_more_optimizer_work(tmp_path: Path,
                                                               method: type[TournamentOptimizer]) -> None:
    world = World()
    setup = make_setup(tmp_path, world, Budget(max_tokens=50))
    result = await method().optimize(load_prompt("simple"), make_pairs(30), setup.harness, SMALL, tmp_path,
                                     False)
    assert result.stopped_by.startswith("budget: token budget")
    assert result.best.name == "simple"
    assert world.counts["synthesize"] == 0  # the optimizer asked nothing once the budget was spent


@pytest.mark.parametrize("method", METHODS)
async def test_a_budget_stopped_run_resumes_with_a_larger_budget(tmp_path: Path,
                                                                 method: type[TournamentOptimizer]) -> None:
    first = make_setup(tmp_path, World(), Budget(max_rollouts=50))
    await method().optimize(load_prompt("simple"), make_pairs(30), first.harness, SMALL, tmp_path, False)
    first.close()
    world = World()
    second = make_setup(tmp_path, world, Budget(max_rollouts=1000))
    assert second.harness.meter.rollouts_spent == 40  # counted from the store
    result = await method().optimize(load_prompt("simple"), make_pairs(30), second.harness, SMALL, tmp_path,
                                     True)
    assert result.stopped_by == "finished"
    rollouts = read_rollouts(tmp_path / "rollouts.jsonl")
    assert len({r.rollout_id for r in rollouts}) == len(rollouts)


async def test_run_evolution_carries_the_budget_across_a_resume(tmp_path: Path) -> None:
    def llm() -> LLM:
        return LLM(settings(), backend=ScriptedBackend(World()), cache=None)

    job = EvolutionJob("clue", load_prompt("simple"), make_pairs(30), [], SMALL, Budget(max_rollouts=50), tmp_path)
    first_llm = llm()
    first = await run_evolution(job, first_llm, runner=Runner(first_llm, tasks=fake_tasks, info=fake_info))
    assert first.optimization.stopped_by.startswith("budget:") and first.seed is None
    evolution = read_runlog(tmp_path).evolution
    assert evolution is not None
    spent = evolution.budget["rollouts_spent"]
    second_llm = llm()
    second = await run_evolution(replace(job, resume=True), second_llm,
                                 runner=Runner(second_llm, tasks=fake_tasks, info=fake_info))
    assert second.budget["rollouts_spent"] == spent  # nothing more fits: the spent rollouts were remembered


@pytest.mark.parametrize("reuse, reuse_finals", [(True, False), (True, True), (False, False)])
async def test_rollouts_per_round_at_the_default_settings(tmp_path: Path, reuse: bool, reuse_finals: bool) -> None:
    """Reference code: 265 per round (the base re-run in the tournament, the resampled finals pairs re-run).
    clue's default reuses the base's batch rollouts in the tournament and re-runs the finalists on the
    resampled pairs (230); `reuse_finals` also serves those from the tournament (210)."""
    defaults = EvolveSettings(rounds=1, reuse_rollouts=reuse, reuse_finals=reuse_finals)
    assert (defaults.batch, defaults.candidates, defaults.top, defaults.resample) == (35, 3, 2, 10)
    assert EvolveSettings().reuse_finals is False  # the reference's re-run is the default
    world = World()
    setup = make_setup(tmp_path, world)
    reporter = RecordingReporter()
    await ClueOptimizer(reporter).optimize(load_prompt("simple"), make_pairs(80), setup.harness, defaults,
                                           tmp_path, False)
    per_round = [r.new_rollouts for r in reporter.rounds]
    if reuse and reuse_finals:  # base 35 + 3 candidates x 35 + 2 finalists x 35 new pairs
        assert per_round == [35 + 3 * 35 + 2 * 35]
    elif reuse:  # the finalists run again on the 10 resampled pairs: 2 x (10 + 35)
        assert per_round == [35 + 3 * 35 + 2 * 45]
    else:  # base 35, then base and 3 candidates x 35 in the tournament, 2 finalists x (10 + 35)
        assert per_round == [35 + 4 * 35 + 2 * 45]
    assert world.counts["extract"] == sum(per_round)


@pytest.mark.parametrize("method", ["clue", "memevolve", "ace"])
async def test_a_unit_cut_short_by_the_token_cap_is_recorded_as_incomplete(tmp_path: Path, method: str) -> None:
    """With no finished unit to estimate from, a token cap can stop the first round (or ACE sample) part way:
    it is still in the run log, marked incomplete, and what it spent is counted."""
    model = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    job = EvolutionJob(method, load_prompt("simple"), make_pairs(30), [], SMALL, Budget(max_tokens=300), tmp_path)
    outcome = await run_evolution(job, model, runner=Runner(model, tasks=fake_tasks, info=fake_info))
    assert outcome.optimization.stopped_by.startswith("budget: token budget spent")
    (point,) = read_runlog(tmp_path).evolution.progress  # type: ignore[union-attr]
    assert point.round == 1 and not point.complete
    assert point.rollouts_spent == outcome.budget["rollouts_spent"] > 0
    assert point.tokens_spent >= 300
