"""GEPA end to end through the real `gepa` package, with the scripted backend and our harness."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.lineage import gepa, read_lineage
from support.locker_world import FakeTask, locker_reply, make_pairs

from clue.bench.run.rollouts import RolloutStore, read_rollouts
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.errors import BadInputError
from clue.evolve.baseline_records import GepaState
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.gepa_method import FAILURE_FEEDBACK, SUCCESS_FEEDBACK, GepaOptimizer, feedback_for, split_pool
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt, prompt_hash

SEED = ExtractionPrompt("seed", "Write at most 5 memories as a numbered list.")
IMPROVED = "Write at most 5 memories as a numbered list. Keep EXACT CODES verbatim."
CODE = re.compile(r"W\d+")


def responder(call: ScriptedCall) -> str:
    """Extractor keeps the code for even ids, or always under the improved prompt; solver echoes it."""
    system, user = call.messages[0]["content"], call.messages[-1]["content"]
    reply = locker_reply(system, user)
    if reply is not None:
        return reply
    assert is_reflection(user)  # the reflection call, through our optimizer role
    return f"Here it is:\n```\n{IMPROVED}\n```"


def is_reflection(text: str) -> bool:
    """gepa's reflection prompt: the current prompt plus our rendered examples and their feedback."""
    return SEED.text in text and "Target query:" in text and "Outcome:" in text


def make_harness(tmp_path: Path, budget: Budget) -> tuple[Harness, ScriptedBackend]:
    backend = ScriptedBackend(responder)
    llm = LLM(load_settings(env={}), backend=backend, cache=None)
    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False))
    store = RolloutStore(tmp_path / "rollouts.jsonl")
    return Harness(runner, store, BudgetMeter(budget, llm.ledger)), backend


def test_split_is_seeded_halves() -> None:
    pairs = make_pairs(21)
    train, val = split_pool(pairs, 42)
    assert len(val) == 10 and len(train) == 11
    assert {p.key for p in train} | {p.key for p in val} == {p.key for p in pairs}
    assert split_pool(list(reversed(pairs)), 42) == (train, val)


def test_validation_half_is_stratified_per_dataset() -> None:
    pairs = [p.model_copy(update={"dataset": "big" if i < 10 else "small", "subset": "big" if i < 10 else "small"})
             for i, p in enumerate(make_pairs(16))]
    train, val = split_pool(pairs, 42)
    per = {name: (sum(p.dataset == name for p in train), sum(p.dataset == name for p in val))
           for name in ("big", "small")}
    assert per == {"big": (5, 5), "small": (3, 3)}  # half of each dataset, not half of the mixed pool
    train, val = split_pool(pairs, 42, 0.25)
    assert sum(p.dataset == "big" for p in val) == 2 and sum(p.dataset == "small" for p in val) == 1


async def test_gepa_runs_end_to_end_through_our_harness(tmp_path: Path) -> None:
    harness, backend = make_harness(tmp_path, Budget(max_rollouts=30))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)

    assert result.best.text == IMPROVED
    assert (tmp_path / "run" / "best_prompt.txt").read_text() == IMPROVED
    lineage = read_lineage(tmp_path / "run")
    assert lineage.method == "gepa" and lineage.seed_hash == SEED.hash and lineage.best_hash == prompt_hash(IMPROVED)
    child = next(e for e in lineage.entries if e.hash == prompt_hash(IMPROVED))
    assert child.parents == [SEED.hash] and child.status == "accepted" and child.origin.iteration == 1
    assert "+Write at most 5 memories as a numbered list. Keep EXACT CODES verbatim." in child.diff
    assert child.scores["validation"].accuracy == 1.0 and gepa(child).minibatch_after is not None
    seed = next(e for e in lineage.entries if e.hash == SEED.hash)
    assert seed.status == "seed" and seed.scores["validation"].accuracy == 0.5
    # Every measurement went through our harness into the rollout store: seed on the 10 validation pairs
    # and a 5-pair minibatch, the child on the same minibatch and then the validation half.
    stored = read_rollouts(tmp_path / "rollouts.jsonl")
    assert len(stored) == harness.meter.rollouts_spent == 30
    assert {r.prompt_hash for r in stored} == {SEED.hash, ExtractionPrompt("x", IMPROVED).hash}
    reflections = [c.messages[-1]["content"] for c in backend.calls if is_reflection(c.messages[-1]["content"])]
    assert reflections  # the library's own reflection template (the reference's), fed our rendered examples
    assert "My locker code is W" in reflections[0] and "What is my locker code?" in reflections[0]
    assert "Gold answer" not in reflections[0]  # the shared feedback policy: outcome, not the answer
    assert result.stopped_by.startswith("budget")
    assert (tmp_path / "run" / "gepa" / "gepa_state.bin").exists()
    state = GepaState.model_validate_json((tmp_path / "run" / "state.json").read_text())
    assert state.status == "done" and state.best_text == IMPROVED and state.best_val_score == 1.0
    progress = harness.recorder_for(tmp_path / "run").progress  # what the run record keeps
    assert progress[0].best_hash == SEED.hash and progress[0].best_score == 0.5
    assert progress[-1].best_hash == child.hash and progress[-1].best_score == 1.0


async def test_tiny_rollout_budget_stops_cleanly(tmp_path: Path) -> None:
    harness, _ = make_harness(tmp_path, Budget(max_rollouts=7))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)

    assert result.stopped_by.startswith("budget")
    assert result.best == SEED  # nothing was measured, so the seed stands
    assert harness.meter.rollouts_spent == 0  # the 10-pair validation pass was refused before it started
    assert (tmp_path / "run" / "state.json").exists() and (tmp_path / "run" / "lineage.json").exists()


async def test_an_iteration_the_budget_cannot_finish_is_not_started(tmp_path: Path) -> None:
    harness, backend = make_harness(tmp_path, Budget(max_rollouts=15))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)
    # Worst case of an iteration: parent and child on 5 minibatch pairs, the child on the 10 validation pairs.
    assert result.stopped_by == "budget: rollout budget: iteration 1 needs up to 20 rollouts, 5 of 15 left"
    assert harness.meter.rollouts_spent == 10  # the seed's validation only
    assert not any(is_reflection(c.messages[-1]["content"]) for c in backend.calls)
    assert result.best == SEED
    assert [p.round for p in harness.recorder_for(tmp_path / "run").progress] == [1]  # the recorded curve


async def test_a_reflection_without_a_fenced_prompt_is_asked_again(tmp_path: Path) -> None:
    def unfenced_first(call: ScriptedCall) -> str:
        user = call.messages[-1]["content"]
        if is_reflection(call.messages[0]["content"]) and len(call.messages) == 1:
            return '{"instruction": "keep codes"}'  # no ``` block: gepa would take this JSON as the prompt
        return responder(call) if not user.startswith("That reply") else f"```\n{IMPROVED}\n```"

    backend = ScriptedBackend(unfenced_first)
    llm = LLM(load_settings(env={}), backend=backend, cache=None)
    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False))
    harness = Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(Budget(max_rollouts=30),
                                                                                     llm.ledger))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)
    assert result.best.text == IMPROVED
    assert result.replies.retried == {"reflection": 1} and result.unusable_replies == {}
    reask = next(c for c in backend.calls if len(c.messages) == 3)
    assert reask.messages[1]["content"] == '{"instruction": "keep codes"}'
    assert "no new prompt inside ``` fences" in reask.messages[2]["content"]


async def test_resume_reuses_finished_rollouts(tmp_path: Path) -> None:
    harness, _ = make_harness(tmp_path, Budget(max_rollouts=30))
    await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                   resume=False)
    harness.store.close()

    again, _ = make_harness(tmp_path, Budget(max_rollouts=40))
    again.meter.rollouts_spent = 30
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), again, EvolveSettings(), tmp_path / "run",
                                            resume=True)
    stored = read_rollouts(tmp_path / "rollouts.jsonl")
    assert len(stored) == len({r.rollout_id for r in stored})  # no rollout id computed twice
    assert again.reused_rollouts >= 10  # the seed's validation pass came from the store
    assert result.best.text == IMPROVED
    entries = read_lineage(tmp_path / "run").entries  # the first process's entries were kept
    assert {SEED.hash, prompt_hash(IMPROVED)} <= {e.hash for e in entries}
    assert len(entries) == len({e.id for e in entries})

    old = tmp_path / "old"  # a run dir of the clue before the typed lineage: refused in one line
    (old / "run").mkdir(parents=True)
    (old / "run" / "state.json").write_text('{"method": "gepa", "iterations": 1, "best_hash": "abc"}')
    older, _ = make_harness(old, Budget(max_rollouts=40))
    with pytest.raises(BadInputError, match=r"state.json: a GEPA run of an earlier clue"):
        await GepaOptimizer().optimize(SEED, make_pairs(20), older, EvolveSettings(), old / "run", resume=True)
    assert json.loads((old / "run" / "state.json").read_text())["best_hash"] == "abc"  # left as it was


def test_feedback_asks_what_helped_or_what_was_missing() -> None:
    from clue.bench.run.rollouts import Rollout

    base: dict[str, Any] = {"rollout_id": "r", "prompt_name": "p", "prompt_hash": "h", "dataset": "d",
                            "subset": "d", "category": "personalization", "ood": False, "source_id": 1,
                            "target_id": 2, "repeat": 0}
    assert feedback_for(Rollout(**base, memory="1. x", reward=1.0)) == SUCCESS_FEEDBACK
    assert feedback_for(Rollout(**base, memory="1. x", reward=0.0)) == FAILURE_FEEDBACK
    assert feedback_for(Rollout(**base, memory="1. x", reward=0.5)) == FAILURE_FEEDBACK  # one success rule


async def test_token_budget_stops_between_iterations(tmp_path: Path) -> None:
    harness, backend = make_harness(tmp_path, Budget(max_tokens=1))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)

    assert result.stopped_by == "budget: token budget spent (1020/1)"  # 10 extractions and solves
    assert harness.meter.rollouts_spent == 10  # the seed's validation pass, then nothing more
    assert not any(is_reflection(c.messages[-1]["content"]) for c in backend.calls)
    assert result.best == SEED


async def test_guardrail_rejects_a_leaking_candidate_without_running_it(tmp_path: Path) -> None:
    leaking = "Write at most 5 memories. Example: my locker code is W3. I like tea."

    def copy_training_text(call: ScriptedCall) -> str:
        if is_reflection(call.messages[-1]["content"]):
            return f"```\n{leaking}\n```"
        return responder(call)

    backend = ScriptedBackend(copy_training_text)
    llm = LLM(load_settings(env={}), backend=backend, cache=None)
    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False))
    harness = Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(Budget(max_rollouts=30),
                                                                                     llm.ledger))
    result = await GepaOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                            resume=False)

    assert result.best == SEED
    rejected = next(e for e in read_lineage(tmp_path / "run").entries if e.hash == prompt_hash(leaking))
    assert rejected.status == "rejected" and rejected.reason.startswith("guardrail: leaks training text")
    assert all(r.prompt_hash == SEED.hash for r in read_rollouts(tmp_path / "rollouts.jsonl"))


def test_a_reflection_holds_a_prompt_only_in_a_fenced_block() -> None:
    from clue.evolve.gepa_bridge import has_prompt

    assert has_prompt("Here it is:\n```\nKeep codes.\n```") and has_prompt("```text\nKeep codes.\n```")
    assert not has_prompt('{"answer": 42}') and not has_prompt("```\n\n```")
    assert not has_prompt("Reply within ``` blocks.<answer>A</answer>")  # an echo of the instructions
    assert has_prompt("```\nKeep codes and", truncated=True) and not has_prompt("```\nKeep codes and")
