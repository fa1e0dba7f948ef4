"""The single-turn solver on real BEHEMOTH pairs: memory in the user turn for MemBench and LongMemEval, in
the system prompt for PrefEval and PersonaMem, as the reference's adapters place it."""

from __future__ import annotations

import pytest

from clue.bench.data.loader import default_data_root, load_pairs, load_targets
from clue.bench.data.records import Pair, Turn
from clue.bench.run.events import LLMCallEvent
from clue.bench.scorers.tasks import task_for
from clue.bench.solvers.base import SolveContext
from clue.bench.solvers.registry import SolverRegistry, solver_settings
from clue.bench.solvers.single_turn import SingleTurnSolver
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.memory.inject import SOLVER_BASE

MEMORY = "1. The user's favourite genre is drama."


def first_pair(dataset: str) -> Pair:
    """A real pair; where the release has targets but no sources, the first real target with a short chat."""
    root = default_data_root()
    pairs = load_pairs(root, dataset, "all", limit=1, warn=lambda message: None)
    if pairs:
        return pairs[0]
    targets = load_targets(root, dataset, warn=lambda message: None)
    subset, by_id = next(iter(targets.items()))
    target = next(iter(by_id.values()))
    return Pair(dataset=dataset, subset=subset, source_id=0, target_id=target.id, target=target.model_dump(),
                source_messages=[Turn(role="user", content="I mostly watch dramas.")])


def llm_with(backend: ScriptedBackend) -> LLM:
    return LLM(load_settings(env={}), backend=backend, cache=None)


@pytest.mark.parametrize("dataset", ["membench-high", "membench-low", "longmemeval"])
async def test_memory_goes_in_the_user_turn_before_the_question(dataset: str) -> None:
    pair = first_pair(dataset)
    backend = ScriptedBackend(["<answer>B</answer>"])
    solver = SolverRegistry()(dataset)
    assert isinstance(solver, SingleTurnSolver) and solver.memory_placement == "user"
    recorded: list[object] = []
    episode = await solver.solve(pair, MEMORY, SolveContext(llm_with(backend), record=recorded.append))
    system, user = backend.calls[0].messages
    assert system == {"role": "system", "content": ""}  # the reference sends an empty system prompt here
    question = task_for(dataset).query_messages(pair)[-1]["content"]
    assert user["content"].endswith(question) and user["content"].index(MEMORY) < user["content"].index(question)
    assert "past conversations" in user["content"]
    assert episode.final_text == "<answer>B</answer>" and episode.messages[-1]["role"] == "assistant"
    event = episode.events[0]
    assert isinstance(event, LLMCallEvent) and event.role == "solver" and event.messages[1] == user
    assert recorded == episode.events


@pytest.mark.parametrize("dataset", ["prefeval"])  # PersonaMem-v2's files are not in the release
async def test_memory_goes_in_the_system_prompt(dataset: str) -> None:
    pair = first_pair(dataset)
    backend = ScriptedBackend(["<answer>A</answer>"])
    solver = SolverRegistry()(dataset)
    assert solver.memory_placement == "system"
    await solver.solve(pair, MEMORY, SolveContext(llm_with(backend)))
    system, user = backend.calls[0].messages
    assert system["content"].startswith(SOLVER_BASE) and MEMORY in system["content"]
    assert MEMORY not in user["content"] and user["content"] == task_for(dataset).query_messages(pair)[-1]["content"]


@pytest.mark.parametrize("placement", ["system", "user"])
async def test_no_memory_adds_no_block_anywhere(placement: str) -> None:
    pair = first_pair("membench-high")
    backend = ScriptedBackend(["<answer>B</answer>"])
    solver = SingleTurnSolver(memory_placement=placement)  # type: ignore[arg-type]
    await solver.solve(pair, "  ", SolveContext(llm_with(backend), task=task_for("membench-high")))
    sent = backend.calls[0].messages
    assert all("<memory>" not in m["content"] for m in sent)
    assert sent[-1]["content"] == task_for("membench-high").query_messages(pair)[-1]["content"]


def test_the_registry_follows_the_reference_per_dataset() -> None:
    assert {d for d in ("GameOf24", "AIME", "MathEquationBalancer", "GPQA_Diamond", "MMLU_Pro_Physics",
                        "MMLU_Pro_Engineering") if solver_settings(d).kind == "code_rounds"} == {
        "GameOf24", "AIME", "MathEquationBalancer", "GPQA_Diamond", "MMLU_Pro_Physics", "MMLU_Pro_Engineering"}
    assert all(solver_settings(d).memory_placement == "user" for d in ("GameOf24", "AIME", "GPQA_Diamond"))
    assert solver_settings("personamem-v2").memory_placement == solver_settings("prefeval").memory_placement == "system"
    assert solver_settings("bigcodebench").kind == "code_tests"
    assert [solver_settings(d).memory_placement for d in ("alfworld", "fever", "pddl", "babyai", "scienceworld")] \
        == ["system", "system", "system", "user", "user"]
    assert {solver_settings(d).kind for d in ("alfworld", "babyai", "toolbench")} == {"episode"}
    assert solver_settings("demo-personalization").kind == "single_turn"
    assert solver_settings("demo-personalization").memory_placement == "system"
