"""Optimizer replies that are nonsense JSON: asked again with the parse error (a bounded number of times),
counted per step, carried into the result and the run log, and a method whose every candidate came from an
unusable reply fails with exit code 4 instead of keeping the seed as if it had won."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.lineage import read_lineage, tournament

from clue.bench.run.record import read_runlog
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.evolve.budget import Budget
from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.protocol import EvolveSettings
from clue.evolve.replies import OptimizerRepliesError
from clue.evolve.run import EvolutionJob, run_evolution
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

from .conftest import ROLE_ENV, World, fake_info, fake_tasks, kind_of, make_pairs, make_setup

SMALL = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)
NONSENSE = '{"answer": 42, "note": "nothing you asked for"}'


class Nonsense(World):
    """Every optimizer call (structured or free text) gets valid JSON that answers nothing."""

    def __call__(self, call: ScriptedCall) -> str:
        if call.model == "opt":
            self.counts["nonsense"] += 1
            return NONSENSE
        return super().__call__(call)


async def evolve(run_dir: Path, world: World, method: str, settings: EvolveSettings = SMALL,
                 budget: Budget | None = None) -> tuple[ScriptedBackend, object]:
    backend = ScriptedBackend(world)
    llm = LLM(load_settings(env=dict(ROLE_ENV)), backend=backend, cache=None)
    job = EvolutionJob(method, load_prompt("simple"), make_pairs(30), make_pairs(4, start=100), settings,
                       budget or Budget(), run_dir)
    outcome = await run_evolution(job, llm, runner=Runner(llm, tasks=fake_tasks, info=fake_info))
    return backend, outcome


# With every analysis unusable there is nothing to synthesize from: those candidates fail without a call.
EXPECTED_STEPS = {"clue": {"summary", "cluster", "analysis"}, "memevolve": {"analysis"}, "gepa": {"reflection"},
                  "ace": {"reflector", "curator"}}


@pytest.mark.parametrize("method", ["clue", "memevolve", "gepa", "ace"])
async def test_nonsense_json_fails_the_method_with_counts_instead_of_keeping_the_seed(tmp_path: Path,
                                                                                     method: str) -> None:
    world = Nonsense()
    with pytest.raises(OptimizerRepliesError) as raised:
        await evolve(tmp_path, world, method, budget=Budget(max_rollouts=300))
    error = raised.value
    assert error.exit_code == 4
    message = str(error)
    assert "\n" not in message and message.startswith(f"{method}: every one of the ")
    assert "unusable" in message and "the seed prompt was kept" in message
    assert set(error.unusable_replies) == EXPECTED_STEPS[method]
    assert all(n > 0 for n in error.unusable_replies.values())
    # Each unusable reply was asked again once (the default 2 tries), with the parse error.
    assert world.counts["nonsense"] == 2 * sum(error.unusable_replies.values())
    # The run log says so: failed, the one line, and the counts.
    log = read_runlog(tmp_path)
    assert log.status == "failed" and log.error == message
    assert log.evolution is not None and log.evolution.unusable_replies == error.unusable_replies
    assert log.results is None or not log.results.get("best")
    if method in ("clue", "memevolve"):  # rounds ran; each progress point carries the counts so far
        assert [p.round for p in log.evolution.progress] == [1, 2]
        assert log.evolution.progress[-1].unusable_replies == error.unusable_replies


async def test_a_reask_carries_the_parse_error_and_a_good_second_reply_is_used(tmp_path: Path) -> None:
    class FirstSummaryBad(World):
        def __call__(self, call: ScriptedCall) -> str:
            if kind_of(call) == "summarize" and len(call.messages) == 2 and "e01" in call.messages[1]["content"]:
                return NONSENSE
            return super().__call__(call)

    world = FirstSummaryBad()
    setup = make_setup(tmp_path, world)
    result = await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(30), setup.harness,
                                            EvolveSettings(rounds=1, batch=6, candidates=2, top=2, resample=2),
                                            tmp_path, False)
    assert result.stopped_by == "finished"
    assert result.unusable_replies == {}
    assert result.replies.retried == {"summary": 1} and result.replies.asked["summary"] == 6
    reasks = [c for c in setup.backend.calls if kind_of(c) == "summarize" and len(c.messages) == 4]
    assert len(reasks) == 1
    assert reasks[0].messages[2]["content"] == NONSENSE
    assert "not usable (schema mismatch at summary: Field required)" in reasks[0].messages[3]["content"]


async def test_some_unusable_replies_are_counted_and_shown_without_failing_the_run(tmp_path: Path) -> None:
    class OneClusteringNonsense(World):
        def __call__(self, call: ScriptedCall) -> str:
            if kind_of(call) == "cluster" and self.counts["cluster"] < 3:  # round 1's call and its re-asks
                self.counts["cluster"] += 1
                return NONSENSE
            return super().__call__(call)

    world = OneClusteringNonsense()
    settings = EvolveSettings(rounds=2, batch=6, candidates=2, top=2, resample=2, reply_attempts=3)
    _, outcome = await evolve(tmp_path, world, "clue", settings)
    replies = outcome.optimization.replies  # type: ignore[attr-defined]
    assert outcome.optimization.stopped_by == "finished"  # type: ignore[attr-defined]
    assert replies.unusable == {"cluster": 1} and replies.retried["cluster"] == 1
    assert replies.asked["cluster"] == 2 and replies.unusable_candidates == 0
    log = read_runlog(tmp_path)
    assert log.status == "finished" and log.evolution is not None
    assert log.evolution.unusable_replies == {"cluster": 1}
    assert [p.unusable_replies for p in log.evolution.progress] == [{"cluster": 1}, {"cluster": 1}]
    lineage = read_lineage(tmp_path)
    assert any("clusterer reply unusable" in note for note in lineage.rounds[0].cluster_repairs)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["replies"]["unusable"] == {"cluster": 1}  # kept for a resumed run


@pytest.mark.parametrize("method", ["clue", "memevolve"])
async def test_unusable_syntheses_alone_fail_the_method(tmp_path: Path, method: str) -> None:
    class NonsenseSynthesis(World):
        def __call__(self, call: ScriptedCall) -> str:
            return NONSENSE if kind_of(call) == "synthesize" else super().__call__(call)

    with pytest.raises(OptimizerRepliesError, match=rf"^{method}: every one of the 6 candidates failed .*"
                                                    r"synthesis 6/6\); the seed prompt was kept$") as raised:
        await evolve(tmp_path, NonsenseSynthesis(), method)
    assert raised.value.unusable_replies == {"synthesis": 6}
    rejected = [str(tournament(e).rejected) for e in read_lineage(tmp_path).entries if e.status == "rejected"]
    assert len(rejected) == 6 and all(r.startswith("no usable candidate: optimizer reply is not valid JSON")
                                      for r in rejected)
