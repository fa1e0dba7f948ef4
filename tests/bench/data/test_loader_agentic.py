"""The five in-distribution agentic sets on the real BEHEMOTH files: trajectories with their outcome, split
by the split file, and their targets carrying the environment fields."""

from __future__ import annotations

import pytest

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.data.records import SourceOutcome
from clue.bench.run.results import aggregate
from clue.bench.run.rollouts import Rollout

SIZES = {"alfworld": 134, "babyai": 112, "fever": 250, "pddl": 60, "scienceworld": 90}
ENV_FIELDS = {"alfworld": "env_kwargs", "babyai": "game_name", "fever": "answer", "pddl": "problem_index",
              "scienceworld": "subgoals"}
SUCCESS_TURN = {"You successfully finished this task!", "You successfully finished this task."}
FAILURE_TURN = "You failed the task."


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.mark.parametrize("dataset", sorted(SIZES))
def test_agentic_train_pairs_come_from_the_split_file_with_their_outcome(dataset: str) -> None:
    warn = Warnings()
    train = load_pairs(default_data_root(), dataset, "train", warn=warn)
    test = load_pairs(default_data_root(), dataset, "test", warn=warn)
    assert warn == []
    assert len(train) == 20 and len(test) == min(SIZES[dataset] - 20, 200)
    assert not {p.source_id for p in train} & {p.source_id for p in test}
    for pair in train + test:
        assert pair.source_outcome is not None, f"{pair.key}: no outcome"
        assert 0.0 <= pair.source_outcome.reward <= 1.0
        roles = [turn.role for turn in pair.source_messages]
        assert "assistant" in roles and roles.count("user") >= 2  # a trajectory, not a single question
        assert ENV_FIELDS[dataset] in pair.target
        last = pair.source_messages[-1].content
        if last in SUCCESS_TURN or last == FAILURE_TURN:  # where the release ends with the outcome, they agree
            assert pair.source_outcome.success == (last in SUCCESS_TURN), pair.key
    assert any(p.source_outcome and p.source_outcome.success for p in train)


def test_source_outcome_reads_the_released_literal_strings() -> None:
    assert SourceOutcome.of({"success": "True", "reward": "0.5"}) == SourceOutcome(success=True, reward=0.5)
    assert SourceOutcome.of({"success": False, "reward": 0}) == SourceOutcome(success=False, reward=0.0)
    assert SourceOutcome.of({"success": "maybe", "reward": "1"}) is None
    assert SourceOutcome.of({"reward": "1"}) is None


def test_results_show_the_agentic_macro_without_the_ood_toolbench() -> None:
    def rollout(dataset: str, reward: float, *, ood: bool = False, category: str = "agentic") -> Rollout:
        return Rollout(rollout_id=f"p:{dataset}", prompt_name="p", prompt_hash="p", dataset=dataset,
                       subset=dataset, category=category, ood=ood, source_id=0, target_id=0, repeat=0,
                       reward=reward, success=reward == 1.0)

    results = aggregate([rollout("alfworld", 1.0), rollout("pddl", 0.5), rollout("toolbench", 0.0, ood=True),
                         rollout("GameOf24", 0.0, category="problem-solving")])
    assert results.category_macro == {"agentic": 0.75, "problem-solving": 0.0}
    assert results.ood_macro == 0.0
