"""One scoring rule on the rollout record: an infrastructure failure is retried, then left out and counted
(never a 0 in a tournament); a bad record is an error scored 0; a plain bug stops the run naming the rollout."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.bench.data.records import Pair
from clue.bench.run.rollouts import Rollout, RolloutStore
from clue.bench.run.runner import Runner
from clue.bench.scorers.score import Score
from clue.bench.scorers.tasks import JudgeFn
from clue.errors import RolloutBugError
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.feedback import outcome_label
from clue.evolve.harness import Harness, score_rollouts
from clue.evolve.tournament_run import rank
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.llm.types import LLMError
from clue.memory.prompts import load_prompt

from .conftest import FakeTask, World, fake_info, fake_tasks, make_pairs, settings


class Flaky(World):
    """Extraction of the sources named in `down` fails for an infrastructure reason, `times` times each."""

    def __init__(self, down: set[int], times: int) -> None:
        super().__init__()
        self.down = {f"Conversation {i}:" for i in down}
        self.left = {key: times for key in self.down}

    def __call__(self, call: ScriptedCall) -> str:
        if call.model == "ext":
            user = call.messages[-1]["content"]
            for key in self.down:
                if key in user and self.left[key] > 0:
                    self.left[key] -= 1
                    raise LLMError(f"endpoint crashed on {key}")
        return super().__call__(call)


def harness_for(tmp_path: Path, world: World) -> Harness:
    llm = LLM(settings(), backend=ScriptedBackend(world), cache=None)
    runner = Runner(llm, tasks=fake_tasks, info=fake_info)
    return Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(Budget(), llm.ledger))


async def test_a_transient_infrastructure_failure_is_retried_and_scored(tmp_path: Path) -> None:
    harness = harness_for(tmp_path, Flaky({1}, times=1))
    prompt = load_prompt("simple")
    rollouts = await harness.evaluate(prompt, make_pairs(4))
    assert all(r.scored for r in rollouts) and harness.retried_rollouts == 1
    assert score_rollouts(prompt, rollouts).left_out == 0


async def test_a_persistent_infrastructure_failure_is_left_out_and_counted_never_zero(tmp_path: Path) -> None:
    harness = harness_for(tmp_path, Flaky({1}, times=99))
    prompt = load_prompt("simple")
    rollouts = await harness.evaluate(prompt, make_pairs(4))
    failed = [r for r in rollouts if not r.scored]
    assert len(failed) == 1 and failed[0].infra_failure and harness.retried_rollouts == 2
    score = score_rollouts(prompt, rollouts)
    scored = [r.reward for r in rollouts if r.scored]
    assert score.left_out == 1 and score.n == 3 and score.accuracy == sum(scored) / 3
    assert outcome_label(failed[0]) == "infrastructure failure" and failed[0].outcome == "error"


def test_a_prompt_with_nothing_scored_ranks_last_instead_of_scoring_zero() -> None:
    prompt = load_prompt("simple")
    down = Rollout(rollout_id="a", prompt_name="p", prompt_hash=prompt.hash, dataset="d", subset="d",
                   category="c", ood=False, source_id=0, target_id=0, repeat=0, infra_failure=True,
                   error="endpoint down")
    nothing = score_rollouts(prompt, [down])
    assert nothing.accuracy is None and nothing.left_out == 1
    zero = score_rollouts(load_prompt("no-memory"), [down.model_copy(update={
        "infra_failure": False, "error": None, "prompt_hash": "z"})])
    assert zero.accuracy == 0.0
    assert [s.prompt_hash for s in rank([nothing, zero])] == [zero.prompt_hash, nothing.prompt_hash]


def test_success_is_a_property_of_the_rollout() -> None:
    base = Rollout(rollout_id="a", prompt_name="p", prompt_hash="h", dataset="d", subset="d", category="c",
                   ood=False, source_id=0, target_id=0, repeat=0)
    assert base.model_copy(update={"reward": 1.0}).succeeded
    assert not base.model_copy(update={"reward": 1.0, "success": False}).succeeded  # the dataset's own flag wins
    assert not base.model_copy(update={"reward": 1.0, "error": "bad record"}).succeeded
    assert base.model_copy(update={"reward": 1.0, "error": "bad record"}).outcome == "error"
    assert not base.model_copy(update={"infra_failure": True}).scored


class RaisingTask(FakeTask):
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        raise self.error


async def test_a_plain_bug_stops_the_run_and_names_the_rollout(tmp_path: Path) -> None:
    llm = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    runner = Runner(llm, tasks=lambda ds: RaisingTask(ZeroDivisionError("division by zero")), info=fake_info)
    pair = make_pairs(1)[0]
    with pytest.raises(RolloutBugError, match=rf"rollout \w+:{pair.key}:0: ZeroDivisionError: division by zero"):
        await runner.run_one(load_prompt("simple"), pair, 0)


async def test_a_malformed_target_record_is_an_error_not_a_bug_nor_an_infra_failure(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Target(BaseModel):
        answer: int

    try:
        Target.model_validate({"answer": "many"})
    except Exception as exc:
        invalid = exc
    llm = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    runner = Runner(llm, tasks=lambda ds: RaisingTask(invalid), info=fake_info)
    rollout = await runner.run_one(load_prompt("simple"), make_pairs(1)[0], 0)
    assert rollout.error is not None and "malformed record (answer:" in rollout.error
    assert rollout.scored and not rollout.infra_failure and rollout.reward == 0.0
