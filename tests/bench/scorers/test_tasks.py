from __future__ import annotations

from typing import Any

import pytest

from clue.bench.data.datasets import DATASETS, UnknownDatasetError
from clue.bench.data.records import ChoiceTarget, Pair, PersonaMemTarget, PrefEvalTarget, ProblemTarget, Turn
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
# PersonaMem-v2 in the release's layout (flat) and the generator's (under metadata)
PERSONAMEM = {"id": 7, "task_main": "Can you suggest a weekend plan?", "user_query": "Can you suggest a weekend plan?",
              "correct_answer": "A quiet hike, since you prefer calm outdoor time.",
              "choices": ["A loud club night.", "A quiet hike, since you prefer calm outdoor time.",
                          "A shopping marathon.", "Stay in and work."]}
PERSONAMEM_NESTED = {"id": 8, "task_main": PERSONAMEM["task_main"],
                     "metadata": {k: v for k, v in PERSONAMEM.items() if k not in ("id", "task_main")}}
LONGMEMEVAL = {"id": 6, "task_main": "q", "question": "Any tips for my trip?", "answer": "Mentions Kyoto.",
               "question_type": "single-session-preference"}


SAMPLE_TARGETS: dict[type[Any], dict[str, Any]] = {ChoiceTarget: MEMBENCH, PrefEvalTarget: PREFEVAL,
                                                   ProblemTarget: GPQA, PersonaMemTarget: PERSONAMEM}
JUDGED_TARGET = LONGMEMEVAL
EPISODE_TARGET = {"task_main": "Put a clean mug in the coffee machine."}  # agentic sets: scored by outcome


def make_pair(dataset: str, target: dict[str, Any]) -> Pair:
    return Pair(dataset=dataset, subset=dataset, source_id=0, target_id=int(target["id"]),
                source_messages=[Turn(role="user", content="hi")], target=target)


def query_text(dataset: str, target: dict[str, Any], answer_form: str = "<answer>") -> str:
    messages = task_for(dataset).query_messages(make_pair(dataset, target))
    assert [m["role"] for m in messages] == ["user"]
    assert answer_form in messages[0]["content"]
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


def test_membench_asks_for_the_bare_letter_with_the_time() -> None:
    text = query_text("membench-high", MEMBENCH, "letter of the right choice alone")
    assert "Which genre do I like?" in text and "A. Musical\nB. Drama" in text
    assert "2024-10-01 08:13 Tuesday" in text and "<answer>" not in text


def test_prefeval_is_asked_in_the_first_person_for_a_choice_tag_without_explanation() -> None:
    text = query_text("prefeval", PREFEVAL, "<choice>")
    assert text.startswith("Recommend a course?") and "C. In-person evening class" in text
    assert "recommend one of them for me" in text and "no explanation" in text
    assert "hates online" not in text and "<answer>" not in text and "the user" not in text


def test_personamem_targets_load_in_both_layouts_and_are_asked_for_the_best_reply() -> None:
    for sample in (PERSONAMEM, PERSONAMEM_NESTED):
        record = PersonaMemTarget.model_validate(sample)
        assert record.correct_letter == "B" and record.options["D"] == "Stay in and work."
    text = query_text("personamem-v2", PERSONAMEM, "(A), (B), (C), (D)")
    assert text.startswith("Can you suggest a weekend plan?") and "B. A quiet hike" in text
    with pytest.raises(ValueError, match=r"correct_answer 'Go to the moon\.' is not one of the choices"):
        PersonaMemTarget.model_validate({**PERSONAMEM, "correct_answer": "Go to the moon."})


def test_problem_queries_drop_the_question_numbering() -> None:
    assert "Question #1" not in query_text("GameOf24", GAME24)
    assert "Equation: 3 ? 21 ? 1 = -18" in query_text("MathEquationBalancer", EQUATION)
    assert "(C) c" in query_text("GPQA_Diamond", GPQA)
    assert "Any tips for my trip?" in query_text("longmemeval", LONGMEMEVAL, "step by step")


@pytest.mark.parametrize(
    ("dataset", "target", "right", "wrong"),
    [
        ("membench-high", MEMBENCH, "B", "C"),
        ("membench-high", MEMBENCH, "I think so.\n<answer>B</answer>", "<answer>C</answer>"),
        ("membench-low", MEMBENCH, "FINAL ANSWER: (B) Drama", "<answer>Horror</answer>"),
        ("prefeval", PREFEVAL, "<choice>C</choice>", "<choice>A</choice>"),
        ("prefeval", PREFEVAL, "<answer>C</answer>", "I would pick one of them."),
        ("personamem-v2", PERSONAMEM, "The calm option suits you best. Final answer: (B)", "(A)"),
        ("personamem-v2", PERSONAMEM_NESTED, "B", "I cannot tell."),
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

    limits: list[int | None] = []

    async def judge(messages: list[Message], *, max_tokens: int | None = None) -> str:
        asked.append(messages)
        limits.append(max_tokens)
        return "Yes"

    result = await task.score(pair, "Step 1: you went to Japan.\nSo: Visit Kyoto in spring.", judge)
    assert result.reward == 1.0 and limits == [10] and [m["role"] for m in asked[0]] == ["user"]
    prompt = asked[0][-1]["content"]
    assert "Step 1: you went to Japan.\nSo: Visit Kyoto in spring." in prompt and "Mentions Kyoto." in prompt

    async def rambling_judge(messages: list[Message], *, max_tokens: int | None = None, vote: int = 0) -> str:
        return "It is hard to say."

    unclear = await task.score(pair, "<answer>x</answer>", rambling_judge)
    assert unclear.reward == 0.0 and "not understood" in unclear.detail and unclear.unreadable_verdicts == 1


def test_deterministic_tasks_expose_score_answer() -> None:
    task = task_for("AIME")
    assert isinstance(task, AnswerTask)
    assert task.score_answer(AIME, "33").reward == 1.0
    assert task.score_answer(AIME, None).detail == "no answer found"
