"""The rollout store: a rollout that failed for an infrastructure reason is not finished work."""

from __future__ import annotations

from pathlib import Path

from clue.bench.run.rollouts import Rollout, RolloutStore


def _rollout(**update: object) -> Rollout:
    base = Rollout(rollout_id="h:s:1:1:0", prompt_name="p", prompt_hash="h", dataset="d", subset="s",
                   category="c", ood=False, source_id=1, target_id=1, repeat=0)
    return base.model_copy(update=update)


def test_failed_rollout_is_retried_and_its_new_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    store = RolloutStore(path)
    store.append(_rollout(infra_failure=True, error="endpoint down"))
    store.close()

    store = RolloutStore(path)
    assert store.get("h:s:1:1:0") is None and "h:s:1:1:0" not in store  # resume will run it again
    store.append(_rollout(reward=1.0))
    store.close()

    store = RolloutStore(path)
    found = store.get("h:s:1:1:0")
    store.close()
    assert found is not None and found.reward == 1.0 and not found.infra_failure
    assert len(path.read_text().splitlines()) == 2  # append-only: the failure stays on record


def test_wrong_answer_is_finished_work(tmp_path: Path) -> None:
    store = RolloutStore(tmp_path / "rollouts.jsonl")
    store.append(_rollout(reward=0.0))
    assert store.get("h:s:1:1:0") is not None
    store.close()
