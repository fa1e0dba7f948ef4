"""LongMemEval is graded per question type, as the benchmark's own judge grades."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.bench.data.loader import load_pairs
from clue.bench.scorers.judge import JudgeFn, judge_longmemeval, longmemeval_messages
from clue.bench.scorers.tasks import task_for
from clue.errors import BadInputError
from clue.llm.types import Message

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = REPO_ROOT / "../shared/behemoth"


def prompt(question_type: str, **kwargs: bool) -> str:
    return longmemeval_messages(question_type, "How many days?", "18 days", "19 days", **kwargs)[0]["content"]


def test_each_question_type_gets_its_own_rule() -> None:
    assert "off-by-one" in prompt("temporal-reasoning") and "off-by-one" not in prompt("multi-session")
    assert "outdated" in prompt("knowledge-update") and "outdated" not in prompt("single-session-user")
    preference = prompt("single-session-preference")
    assert "Rubric: 18 days" in preference and "personal information" in preference
    assert "Correct answer: 18 days" in prompt("single-session-assistant")
    abstention = prompt("temporal-reasoning", abstention=True)
    assert "unanswerable" in abstention and "Explanation: 18 days" in abstention and "off-by-one" not in abstention
    with pytest.raises(BadInputError, match="unknown LongMemEval question type 'trivia'"):
        prompt("trivia")


async def test_abstention_is_read_from_the_question_id() -> None:
    seen: list[str] = []

    async def judge(messages: list[Message], *, max_tokens: int | None = None) -> str:
        seen.append(messages[0]["content"])
        return "yes"

    score = await judge_longmemeval(judge, "multi-session", "q", "not mentioned", "I don't know that.",
                                    question_id="gpt4_123_abs")
    assert score.reward == 1.0 and "unanswerable" in seen[0]
    assert (await judge_longmemeval(judge, "multi-session", "q", "a", "  ")).reward == 0.0 and len(seen) == 1


async def test_the_released_preference_questions_are_graded_by_rubric() -> None:
    pairs = load_pairs(DATA_ROOT, "longmemeval", "ood", limit=3, warn=lambda m: None)
    assert pairs and all(p.target["question_type"] == "single-session-preference" for p in pairs)
    seen: list[str] = []

    async def judge(messages: list[Message], *, max_tokens: int | None = None) -> str:
        assert [m["role"] for m in messages] == ["user"] and max_tokens == 10
        seen.append(messages[0]["content"])
        return "no"

    answer = "Step 1: the user likes hiking.\nSo: <answer>Try a generic course.</answer>"
    score = await task_for("longmemeval").score(pairs[0], answer, judge)
    assert score.reward == 0.0 and f"Rubric: {pairs[0].target['answer']}" in seen[0]
    assert "Step 1: the user likes hiking." in seen[0]  # the judge sees the whole answer, not only a tag


def judge_replying(*replies: str) -> tuple[list[int], JudgeFn]:
    votes: list[int] = []

    async def judge(messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None,
                    vote: int = 0) -> str:
        votes.append(vote)
        return replies[min(len(votes), len(replies)) - 1]

    return votes, judge


async def test_an_unreadable_verdict_is_asked_again_and_counted_when_it_stays_unreadable() -> None:
    votes, judge = judge_replying("Hmm, hard to say.", "yes")
    score = await judge_longmemeval(judge, "multi-session", "q", "a", "an answer", max_tokens=10)
    assert (score.reward, score.unreadable_verdicts, votes) == (1.0, 0, [0, 1])  # the retry is a fresh sample

    votes, judge = judge_replying("Hmm, hard to say.", "Hard to tell either way.")
    score = await judge_longmemeval(judge, "multi-session", "q", "a", "an answer", max_tokens=10)
    assert (score.reward, score.unreadable_verdicts, votes) == (0.0, 1, [0, 1])
    assert "not understood" in score.detail

    votes, judge = judge_replying("yes")
    assert (await judge_longmemeval(judge, "multi-session", "q", "a", "an answer")).unreadable_verdicts == 0
    assert votes == [0]  # a readable verdict is asked once
