from __future__ import annotations

from typing import Any

import pytest

from clue.bench.data.datasets import DATASETS, UnknownDatasetError
from clue.bench.data.records import ChoiceTarget, Pair, PrefEvalTarget, ProblemTarget, Turn
from clue.bench.scorers.tasks import AnswerTask, JudgeRequiredError, Score, task_for
from clue.llm.types import Message

MEMBENCH = {"id": 0, "task_main": "q", "question": "Which genre do I like?", "answer": "Drama",
            "choices": {"A": "Musical", "B": "Drama", "C": "Horror", "D": "Children"}, "ground_truth": "B",
            "time": "'2024-10-01 08:13' Tuesday"}
PREFEVAL = {"id": 1, "task_main": "Recommend a course?", "preference": "hates online learning",
            "shuffled_options": ["Online MOOC", "Video tutorials", "In-person evening class",
                                 "E-learning app"],
            "correct_idx": "C"}
GAME24 = {"id": 2, "task_main": "2 5 8 11", "input": "Play 24.\n\nQuestion #1:\n2 5 8 11", "target": "24"}
AIME = {"id": 3, "task_main": "p", "input": "Question #1:\nFind n.", "target": "33"}
EQUATION = {"id": 4, "task_main": "3 ? 21 ? 1 = -18",
            "input": "Fill in.\n\nEquation: Question #1:\n3 ? 21 ? 1 = -18", "target": "3 - 21 / 1 = -18"}
GPQA = {"id": 5, "task_main": "t", "input": "Question #1:\nWhich?\nOptions:\n(A) a\n(B) b\n(C) c\n(D) d",
        "target": "(C)"}
LONGMEMEVAL = {"id": 6, "task_main": "q", "question": "Any tips for my trip?", "answer": "Mentions Kyoto.",
               "question_type": "single-session-preference"}


SAMPLE_TARGETS: dict[type[Any], dict[str, Any]] = {ChoiceTarget: MEMBENCH, PrefEvalTarget: PREFEVAL,
                                                   ProblemTarget: GPQA}
JUDGED_TARGET = LONGMEMEVAL
EPISODE_TARGET = {"task_main": "Put a clean mug in the coffee machine."}  # agentic sets: scored by outcome


def make_pair(dataset: str, target: dict[str, Any]) -> Pair:
    return Pair(dataset=dataset, subset=dataset, source_id=0, target_id=int(target["id"]),
                source_messages=[Turn(role="user", content="hi")], target=target)


def query_text(dataset: str, target: dict[str, Any]) -> str:
    messages = task_for(dataset).query_messages(make_pair(dataset, target))
    assert [m["role"] for m in messages] == ["user"]
    assert "<answer>" in messages[0]["content"]
    return messages[0]["content"]


async def score(dataset: str, target: dict[str, Any], reply: str) -> Score:
    return await task_for(dataset).score(make_pair(dataset, target), reply, None)


def test_every_dataset_has_a_task_whose_query_is_a_user_turn() -> None:
    """Resources (environments, the sandbox) are checked by the commands with their env root, not here."""
    for spec in DATASETS:
        task = task_for(spec.name)
        sample = JUDGED_TARGET if spec.name == "longmemeval" else SAMPLE_TARGETS.get(spec.target_model,
                                                                                       EPISODE_TARGET)
        query = task.query_messages(make_pair(spec.name, {**sample, "id": 9}))
        assert query and query[-1]["role"] == "user" and query[-1]["content"].strip(), spec.name
    with pytest.raises(UnknownDatasetError):
        task_for("nope")


def test_mcq_query_lists_lettered_options_and_the_time() -> None:
    text = query_text("membench-high", MEMBENCH)
    assert "Which genre do I like?" in text and "A. Musical\nB. Drama" in text
    assert "2024-10-01 08:13 Tuesday" in text


def test_prefeval_query_letters_the_shuffled_options_and_hides_the_preference() -> None:
    text = query_text("prefeval", PREFEVAL)
    assert "C. In-person evening class" in text
    assert "hates online" not in text


def test_problem_queries_drop_the_question_numbering() -> None:
    assert "Question #1" not in query_text("GameOf24", GAME24)
    assert "Equation: 3 ? 21 ? 1 = -18" in query_text("MathEquationBalancer", EQUATION)
    assert "(C) c" in query_text("GPQA_Diamond", GPQA)
    assert "Any tips for my trip?" in query_text("longmemeval", LONGMEMEVAL)


@pytest.mark.parametrize(
    ("dataset", "target", "right", "wrong"),
    [
        ("membench-high", MEMBENCH, "I think so.\n<answer>B</answer>", "<answer>C</answer>"),
        ("membench-low", MEMBENCH, "FINAL ANSWER: (B) Drama", "<answer>Horror</answer>"),
        ("prefeval", PREFEVAL, "<answer>C</answer>", "<answer>A</answer>"),
        ("GameOf24", GAME24, "<answer>(11 - 5) × (8 ÷ 2)</answer>", "<answer>(11 - 5) * (8 - 2)</answer>"),
        ("AIME", AIME, "so \\boxed{33}", "<answer>34</answer>"),
        ("MathEquationBalancer", EQUATION, "<answer>3 - 21 * 1 = -18</answer>",
         "<answer>3 + 21 * 1 = -18</answer>"),
        ("GPQA_Diamond", GPQA, "<answer>(C)</answer>", "<answer>(E)</answer>"),
        ("MMLU_Pro_Physics", GPQA, "<answer>C</answer>", "a long reply\nwith no answer at all"),
    ],
)
async def test_scores(dataset: str, target: dict[str, Any], right: str, wrong: str) -> None:
    assert (await score(dataset, target, right)).reward == 1.0
    assert (await score(dataset, target, wrong)).reward == 0.0


async def test_game24_task_uses_the_target_numbers() -> None:
    other_puzzle = {**GAME24, "task_main": "4 6 8 11"}
    assert (await score("GameOf24", other_puzzle, "<answer>(11 - 5) * (8 / 2)</answer>")).reward == 0.0
    assert (await score("GameOf24", GAME24, "<answer>(11 - 5) * 8 / 2 = 24</answer>")).reward == 1.0


async def test_judged_task_needs_a_judge_and_uses_its_verdict() -> None:
    pair = make_pair("longmemeval", LONGMEMEVAL)
    task = task_for("longmemeval")
    with pytest.raises(JudgeRequiredError, match="judge"):
        await task.score(pair, "<answer>Visit Kyoto.</answer>", None)

    asked: list[list[Message]] = []

    async def judge(messages: list[Message]) -> str:
        asked.append(messages)
        return "Yes"

    result = await task.score(pair, "Sure!\n<answer>Visit Kyoto in spring.</answer>", judge)
    assert result.reward == 1.0
    prompt = asked[0][-1]["content"]
    assert "Visit Kyoto in spring." in prompt and "Mentions Kyoto." in prompt and "Sure!" not in prompt

    async def rambling_judge(messages: list[Message]) -> str:
        return "It is hard to say."

    unclear = await task.score(pair, "<answer>x</answer>", rambling_judge)
    assert unclear.reward == 0.0 and "not understood" in unclear.detail


def test_deterministic_tasks_expose_score_answer() -> None:
    task = task_for("AIME")
    assert isinstance(task, AnswerTask)
    assert task.score_answer(AIME, "33").reward == 1.0
    assert task.score_answer(AIME, None).detail == "no answer found"
