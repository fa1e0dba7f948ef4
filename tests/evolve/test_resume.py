"""Kill the run in the middle of each step, resume in a fresh "process", and redo nothing that finished.

The crash is an exception raised from inside the k-th LLM call of the chosen step (the step in progress is
read from state.json, as a kill -9 would find it). After resuming on the same run directory with new LLM,
runner, store and harness objects, the run must finish with the same result as an uninterrupted run and the
same number of successful calls of every kind: no rollout, summary, clustering, analysis or candidate done
twice.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from clue.bench.run.recorder import RunRecorder
from clue.bench.run.rollouts import read_rollouts
from clue.errors import RolloutBugError
from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.memevolve import MemEvolveOptimizer
from clue.evolve.protocol import EvolveSettings
from clue.evolve.state import RunState
from clue.evolve.tournament import TournamentOptimizer
from clue.llm.backends.scripted import ScriptedCall
from clue.memory.prompts import load_prompt

from .conftest import InjectedCrash, World, make_pairs, make_setup

SETTINGS = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)
METHODS: dict[str, type[TournamentOptimizer]] = {"clue": ClueOptimizer, "memevolve": MemEvolveOptimizer}
# Which calls to crash on in each step, and at which of them (1-based). Analyses run one group at a time,
# so the 4th analyst call is the first call of the second group (3 calls per group in this world).
PLAN = {"baseline": ("extract", 4), "summarize": ("summarize", 3), "cluster": ("cluster", 1),
        "analyze": ("analyze", 4), "synthesize": ("synthesize", 2), "tournament": ("extract", 9),
        "finals": ("extract", 5)}


@dataclass
class StepCrash:
    run_dir: Path
    step: str
    kind: str
    at: int
    seen: int = 0
    fired: bool = False

    def __call__(self, kind: str, call: ScriptedCall, world: World) -> bool:
        if self.fired or kind != self.kind:
            return False
        state = json.loads((self.run_dir / "state.json").read_text())
        if not state["step"].endswith(f": {self.step}"):
            return False
        self.seen += 1
        self.fired = self.seen == self.at
        return self.fired


async def _run(method: str, run_dir: Path, world: World, resume: bool) -> RunState:
    setup = make_setup(run_dir, world)
    try:
        await METHODS[method]().optimize(load_prompt("simple"), make_pairs(30), setup.harness, SETTINGS,
                                         run_dir, resume)
    finally:
        setup.close()
    return RunState.model_validate_json((run_dir / "state.json").read_text())


_REFERENCE: dict[str, tuple[RunState, Counter[str], str]] = {}


async def _reference(method: str, tmp_path: Path) -> tuple[RunState, Counter[str], str]:
    """An uninterrupted run (deterministic, so computed once per method)."""
    if method not in _REFERENCE:
        world = World()
        state = await _run(method, tmp_path / "reference", world, False)
        _REFERENCE[method] = (state, world.counts, (tmp_path / "reference" / "best_prompt.txt").read_text())
    return _REFERENCE[method]


def _assert_nothing_redone(run_dir: Path, world: World) -> None:
    rollouts = read_rollouts(run_dir / "rollouts.jsonl")
    assert len({r.rollout_id for r in rollouts}) == len(rollouts)
    assert len(world.extractions) == len(set(world.extractions))  # no extraction seen twice


@pytest.mark.parametrize(("method", "step"), [
    *(("clue", s) for s in PLAN),
    *(("memevolve", s) for s in ("baseline", "analyze", "synthesize", "tournament", "finals")),
])
async def test_crash_in_a_step_then_resume_redoes_nothing(tmp_path: Path, method: str, step: str) -> None:
    reference, reference_counts, best = await _reference(method, tmp_path)
    run_dir = tmp_path / "run"
    kind, at = PLAN[step]
    crash = StepCrash(run_dir, step, kind, at)
    world = World(crash=crash)
    with pytest.raises((InjectedCrash, RolloutBugError, ExceptionGroup)):  # a crash inside a rollout stops the run
        await _run(method, run_dir, world, False)
    assert crash.fired
    crashed = RunState.model_validate_json((run_dir / "state.json").read_text())
    assert crashed.step.endswith(f": {step}") and not crashed.finished
    state = await _run(method, run_dir, world, True)
    assert state.finished and state.completed_rounds == 2
    assert state.base == reference.base
    assert (run_dir / "best_prompt.txt").read_text() == best
    assert world.counts == reference_counts  # every kind of call: nothing finished was asked again
    _assert_nothing_redone(run_dir, world)


async def test_repeated_crashes_anywhere_still_finish_the_same_run(tmp_path: Path) -> None:
    reference, reference_counts, _ = await _reference("clue", tmp_path)
    run_dir = tmp_path / "run"
    total = sum(reference_counts.values())
    plan = iter(range(7, total, 23))  # crash every 23rd call, whatever it is

    calls = 0
    next_crash = next(plan)

    def crash(kind: str, call: ScriptedCall, world: World) -> bool:
        nonlocal calls, next_crash
        calls += 1
        if calls == next_crash:
            next_crash = next(plan, -1)
            return True
        return False

    world = World(crash=crash)
    resume = False
    crashes = 0
    for _ in range(100):
        try:
            state = await _run("clue", run_dir, world, resume)
            break
        except (InjectedCrash, RolloutBugError, ExceptionGroup):
            crashes += 1
            resume = True
    assert crashes >= 5 and state.finished
    assert state.base == reference.base
    rollouts = read_rollouts(run_dir / "rollouts.jsonl")
    assert len({r.rollout_id for r in rollouts}) == len(rollouts) == reference_counts["solve"]
    for kind in ("summarize", "cluster", "synthesize"):
        assert world.counts[kind] == reference_counts[kind]
    # Only work in flight at a crash may be repeated: an extraction whose solve crashed, an analysis.
    assert world.counts["extract"] <= reference_counts["extract"] + crashes
    assert world.counts["solve"] == reference_counts["solve"]


async def test_finished_jobs_are_journaled_and_the_state_is_written_only_at_step_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent results (summaries, analyses, candidates) are appended one line each; state.json is
    rewritten when a step starts or ends, not after every job."""
    saves: list[str] = []
    journaled: list[str] = []
    save, journal = RunRecorder.save_private_state, RunRecorder.journal_private_result

    def counting_save(self: RunRecorder, state: BaseModel) -> None:
        saves.append(getattr(state, "step", ""))
        save(self, state)

    def counting_journal(self: RunRecorder, result: BaseModel) -> None:
        journaled.append(type(result).__name__)
        journal(self, result)

    monkeypatch.setattr(RunRecorder, "save_private_state", counting_save)
    monkeypatch.setattr(RunRecorder, "journal_private_result", counting_journal)
    state = await _run("clue", tmp_path / "run", World(), False)
    jobs = sum(len(rs.summaries) + len(rs.analyses) + len(rs.candidates) for rs in state.rounds)
    assert len(journaled) == jobs == 2 * 6 + sum(len(rs.analyses) for rs in state.rounds) + 2 * 3
    steps = 7  # baseline, summarize, cluster, analyze, synthesize, tournament, finals
    assert len(saves) <= 2 * (1 + 2 * steps) + 2  # open, each step's start and end, each round's end
    assert not (tmp_path / "run" / "state.journal.jsonl").exists()  # the last save absorbed the journal
