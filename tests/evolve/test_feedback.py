"""Feedback parity: one renderer, one success rule and one policy for every optimizer LLM."""

from __future__ import annotations

import pytest
from support.locker_world import make_pairs

from clue.bench.run.events import CodeRunEvent, EnvResetEvent, EnvStepEvent, LLMCallEvent
from clue.bench.run.rollouts import Rollout
from clue.evolve.feedback import FeedbackPolicy, outcome_label, render_rollout, solver_view, succeeded
from clue.evolve.gepa_method import FAILURE_FEEDBACK, SUCCESS_FEEDBACK, feedback_for
from clue.evolve.summarize import ExampleLog

PAIR = make_pairs(1)[0]


def rollout(**fields: object) -> Rollout:
    base: dict[str, object] = {"rollout_id": "r", "prompt_name": "p", "prompt_hash": "h", "dataset": "synth",
                               "subset": "synth", "category": "personalization", "ood": False, "source_id": 0,
                               "target_id": 1000, "repeat": 0, "memory": "1. The user likes tea.",
                               "solver_output": "<answer>none</answer>"}
    return Rollout.model_validate({**base, **fields})


@pytest.mark.parametrize(("fields", "label"), [
    ({"reward": 1.0}, "success"), ({"reward": 0.0}, "failure"), ({"reward": 0.5}, "failure"),
    ({"reward": 0.3, "success": True}, "success"),  # the dataset's own flag wins (e.g. an episode)
    ({"reward": 1.0, "success": False}, "failure"),
    ({"reward": 1.0, "error": "endpoint down", "infra_failure": True}, "infrastructure failure")])
def test_one_success_rule_for_every_method(fields: dict[str, object], label: str) -> None:
    r = rollout(**fields)
    assert outcome_label(r) == label
    example = ExampleLog("e01", PAIR, r, "What is my locker code?")
    assert example.success == succeeded(r) == (label == "success")  # CluE's and MemEvolve's view
    assert feedback_for(r) == (SUCCESS_FEEDBACK if label == "success" else FAILURE_FEEDBACK)  # GEPA's


def test_the_view_holds_source_memory_query_solver_and_outcome_but_no_gold_by_default() -> None:
    r = rollout(reward=0.0, score_detail="expected W0")
    text = render_rollout(PAIR, r, "What is my locker code?", FeedbackPolicy())
    for part in ("Outcome: failure (reward 0)\n", "<user>My locker code is W0",
                 "Memory written:\n1. The user likes tea.", "Target query:\nWhat is my locker code?",
                 "Solver:\n<answer>none</answer>"):
        assert part in text
    assert "Gold answer" not in text and "expected W0" not in text  # the scorer's note names the answer
    with_gold = render_rollout(PAIR, r, "What is my locker code?", FeedbackPolicy(show_gold=True))
    assert with_gold.endswith("Gold answer: W0") and "Outcome: failure (reward 0); scorer: expected W0" in with_gold
    short = render_rollout(PAIR, r.model_copy(update={"memory": "m" * 900}), "q", FeedbackPolicy(memory_chars=90))
    assert "[... 810 characters cut ...]" in short


def test_an_episode_is_shown_step_by_step_with_code_runs() -> None:
    r = rollout(reward=1.0, success=True, solver_output="done", events=[
        EnvResetEvent(observation="You are in a kitchen."),
        EnvStepEvent(index=1, action="open fridge", observation="The fridge is open."),
        CodeRunEvent(code="print(6*4)", stdout="24", exit_code=0),
        EnvStepEvent(index=2, action="take apple", observation="You take the apple.", done=True)])
    view = solver_view(r)
    assert view.splitlines()[0] == "[start] You are in a kitchen."
    assert "[step 1] action: open fridge\n  observation: The fridge is open." in view
    assert "[code run, exit 0]\nprint(6*4)\n  output: 24" in view
    assert view.index("[step 2]") > view.index("[code run") and view.endswith("[final reply] done")
    assert "Solver:\n[start] You are in a kitchen." in render_rollout(PAIR, r, "q", FeedbackPolicy())


def test_with_recorded_solver_calls_the_view_is_the_target_conversation() -> None:
    r = rollout(reward=0.0, solver_output="24", events=[
        LLMCallEvent(role="extractor", messages=[], reply="1. memory"),
        LLMCallEvent(role="solver", messages=[], reply="Let me compute. EXECUTE CODE!\nprint(6*4)"),
        CodeRunEvent(code="print(6*4)", stdout="24", exit_code=0),
        LLMCallEvent(role="solver", messages=[], reply="The answer is 24.")])
    assert solver_view(r) == ("[solver] Let me compute. EXECUTE CODE!\nprint(6*4)\n[code output, exit 0] 24\n"
                              "[solver] The answer is 24.")


def test_every_method_uses_the_one_renderer() -> None:
    """CluE/MemEvolve cases, GEPA's reflective records and ACE's reflector all go through render_rollout."""
    import inspect

    from clue.evolve import ace, gepa_method, summarize

    for module in (summarize, gepa_method, ace):
        assert "render_rollout(" in inspect.getsource(module)
    for module in (gepa_method, ace, summarize):
        source = inspect.getsource(module)
        assert "reward > 0.5" not in source and "reward >= 1.0" not in source  # no private success rule
