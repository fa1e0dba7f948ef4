"""The BigCodeBench solver: memory in the system prompt, the reply's code run against the real unit tests."""

from __future__ import annotations

import pytest

from clue.bench.data.records import Pair
from clue.bench.run.events import CodeRunEvent, Event, LLMCallEvent, NoteEvent, ScoreEvent
from clue.bench.sandbox import isolation as sandbox_module
from clue.bench.sandbox.bigcodebench import default_env_root, load_tasks
from clue.bench.solvers.base import Episode, SolveContext
from clue.bench.solvers.code_tests import CodeTestsSolver
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM

pytestmark = pytest.mark.skipif(not sandbox_module.detect_isolation().available,
                                reason="no sandbox isolation on this machine")
TASK_ID = "BigCodeBench/3"


def _pair() -> Pair:
    task = load_tasks(default_env_root())[TASK_ID]
    return Pair(dataset="bigcodebench", subset="bigcodebench", source_id=0, target_id=3, source_messages=[],
                target={"id": 3, "task_main": task.instruct_prompt, "task_id": TASK_ID, "entry_point": "task_func"})


async def _solve(reply: str, memory: str, budget: int | None = None) -> tuple[ScriptedBackend, list[Event], Episode]:
    backend = ScriptedBackend([reply])
    llm = LLM(load_settings(env={}), backend=backend, cache=None)
    recorded: list[Event] = []
    solver = CodeTestsSolver(memory_budget_tokens=budget)
    episode = await solver.solve(_pair(), memory, SolveContext(llm=llm, record=recorded.append))
    return backend, recorded, episode


async def test_a_correct_solution_passes_and_memory_sits_in_the_system_prompt() -> None:
    task = load_tasks(default_env_root())[TASK_ID]
    reply = f"Here is the solution.\n```python\n{task.canonical_code}\n```\nprint('example use')"
    backend, recorded, episode = await _solve(reply, "1. Use numpy for the means.")
    system, user = backend.calls[0].messages
    assert system["role"] == "system"
    assert system["content"].endswith("# Retrieved Memory\n1. Use numpy for the means.")
    assert user["content"] == task.instruct_prompt
    assert episode.outcome is not None and episode.outcome.success and episode.outcome.reward == 1.0
    assert episode.answer == task.canonical_code.strip()
    assert [type(e) for e in recorded] == [LLMCallEvent, CodeRunEvent, ScoreEvent]
    assert episode.events == recorded


async def test_a_wrong_solution_fails_with_the_failing_tests_named() -> None:
    reply = "```python\ndef task_func(LETTERS):\n    return {}\n```"
    backend, recorded, episode = await _solve(reply, "")
    assert "Retrieved Memory" not in backend.calls[0].messages[0]["content"]
    assert episode.outcome is not None and not episode.outcome.success
    score = recorded[-1]
    assert isinstance(score, ScoreEvent) and score.reward == 0.0 and score.detail.startswith("fail")
    assert "test_" in score.detail


async def test_memory_budget_cuts_the_memory_when_asked() -> None:
    reply = "```python\ndef task_func(LETTERS:\n```"  # does not compile, so nothing needs to run
    memory = " ".join(f"fact{i}" for i in range(3000))
    backend, recorded, _ = await _solve(reply, memory, budget=50)
    system = backend.calls[0].messages[0]["content"]
    assert "fact0" in system and "fact2999" not in system
    assert any(isinstance(e, NoteEvent) and "50 tokens" in e.text for e in recorded)
    score = recorded[-1]
    assert isinstance(score, ScoreEvent) and score.detail.startswith("syntax error")
