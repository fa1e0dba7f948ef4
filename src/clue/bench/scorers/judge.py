"""LLM-judged scoring for open-ended answers (LongMemEval; later ToolBench).

The judge sees the question, the reference (a fact, or a description of what a good reply contains) and
the response, and replies with one verdict word. The prompt is our own wording.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Protocol

from clue.bench.scorers.score import Score
from clue.errors import BadInputError
from clue.llm.types import Message


class JudgeFn(Protocol):
    """One judge call: the messages, and optionally a judged task's own decoding (a reply limit, a temperature;
    None: the judge role's). `vote` numbers the calls of a majority vote, so each samples afresh (and is
    cached apart)."""

    def __call__(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, vote: int = 0) -> Awaitable[str]: ...


_SYSTEM = (
    "You grade answers from an assistant. You are strict but fair, and you reply with a single word."
)

_INSTRUCTIONS = """Decide whether the response below gets the question right, measured against the reference.

- If the reference is a fact (a name, number, date, place, ...), the response is right when it states
  that fact, in any wording. Extra detail is fine; a different or missing fact makes it wrong, and so does
  hedging between several candidates.
- If the reference describes what a good reply looks like (for example, what the user would like to be
  recommended), the response is right when it follows that description in substance, mainly by using the
  personal details it mentions. A generic reply that ignores them is wrong.
{unsure_rule}
<question>
{question}
</question>

<reference>
{reference}
</reference>

<response>
{response}
</response>

Reply with exactly one word: {choices}."""

_UNSURE_RULE = (
    "- If the response cannot be judged either way from what is given, reply \"unsure\".\n"
)

_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_LEADING_VERDICT = re.compile(r"^\W*(yes|no|unsure)\b", re.IGNORECASE)
_LABELLED_VERDICT = re.compile(r"\b(?:verdict|answer|judg(?:e)?ment)\W{0,5}(yes|no|unsure)\b", re.IGNORECASE)
_REWARDS = {"yes": 1.0, "no": 0.0, "unsure": 0.5}


def judge_messages(
    question: str, reference: str, response: str, *, allow_unsure: bool = False
) -> list[Message]:
    choices = '"yes", "no" or "unsure"' if allow_unsure else '"yes" or "no"'
    user = _INSTRUCTIONS.format(
        question=question.strip(), reference=reference.strip(), response=response.strip(),
        unsure_rule=_UNSURE_RULE if allow_unsure else "", choices=choices,
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(reply: str, *, allow_unsure: bool = False) -> Score:
    """"yes" -> 1.0, "no" -> 0.0, "unsure" -> 0.5 when allowed; anything else -> 0.0 with a detail."""
    text = _THINK.sub("", reply).strip()
    first_line = text.split("\n", 1)[0].lower()
    if len(set(re.findall(r"\b(yes|no|unsure)\b", first_line))) > 1:
        return Score(0.0, f"judge reply is ambiguous: {text[:80]!r}", unreadable_verdicts=1)
    match = _LEADING_VERDICT.match(text) or _LABELLED_VERDICT.search(text)
    if match is None:
        words = set(re.findall(r"\b(yes|no)\b", text.lower()))
        if len(words) == 1:
            match_word = words.pop()
            return Score(_REWARDS[match_word], f"judge: {match_word} (found in prose)")
        return Score(0.0, f"judge reply not understood: {text[:80]!r}", unreadable_verdicts=1)
    word = match.group(1).lower()
    if word == "unsure" and not allow_unsure:
        return Score(0.0, "judge said unsure, which this task does not allow")
    return Score(_REWARDS[word], f"judge: {word}")


async def ask_for_verdict(judge: JudgeFn, messages: list[Message], *, allow_unsure: bool = False,
                          max_tokens: int | None = None) -> Score:
    """One verdict; a reply that cannot be read is asked once more (a fresh sample) before it counts as unreadable."""
    limit = {} if max_tokens is None else {"max_tokens": max_tokens}
    score = parse_verdict(await judge(messages, **limit), allow_unsure=allow_unsure)
    if score.unreadable_verdicts:
        score = parse_verdict(await judge(messages, **limit, vote=1), allow_unsure=allow_unsure)
    return score


async def judge_answer(
    judge: JudgeFn, question: str, reference: str, response: str, *, allow_unsure: bool = False
) -> Score:
    """Ask `judge` whether `response` answers `question` per `reference`, and score its verdict."""
    if not response.strip():
        return Score(0.0, "empty response")
    messages = judge_messages(question, reference, response, allow_unsure=allow_unsure)
    return await ask_for_verdict(judge, messages, allow_unsure=allow_unsure)


# LongMemEval grades by question type, as the benchmark's own evaluation does (our wording of its rules).
_LME_FACT = ("Answer yes if the response contains the correct answer, or states something equivalent, or "
             "contains all the intermediate steps that lead to it. Answer no if it only gives part of the "
             "information the answer requires.")
_LME_RULES: dict[str, str] = {
    "single-session-user": _LME_FACT,
    "single-session-assistant": _LME_FACT,
    "multi-session": _LME_FACT,
    "temporal-reasoning": _LME_FACT + (" Do not penalize an off-by-one error in a count of days, weeks, months "
                                       "or similar: if the correct answer is 18 days and the response says 19, "
                                       "it is still correct."),
    "knowledge-update": ("Answer yes if the response contains the correct answer. A response that also mentions "
                         "earlier, outdated information is still correct as long as the updated answer it gives is "
                         "the required one."),
    "single-session-preference": ("The reference is a rubric of what a personalized reply should do. Answer yes "
                                  "if the response satisfies it: it need not cover every point of the rubric, but "
                                  "it must recall and use the user's personal information correctly."),
}
_LME_ABSTENTION = ("The question cannot be answered from what the user shared; the reference explains why. "
                   "Answer yes if the response recognizes that the question is unanswerable, for example by "
                   "saying the information is missing or incomplete, or that something else was mentioned "
                   "but not what was asked.")


def is_abstention(question_id: str) -> bool:
    """LongMemEval marks unanswerable questions with an `_abs` suffix on the question id."""
    return question_id.endswith("_abs")


def longmemeval_messages(question_type: str, question: str, reference: str, response: str, *,
                         abstention: bool = False) -> list[Message]:
    """The judge prompt for one LongMemEval question, chosen by its type (or abstention): one user message,
    as the benchmark's own judge is asked."""
    if abstention:
        rule, label = _LME_ABSTENTION, "Explanation"
    elif question_type in _LME_RULES:
        rule = _LME_RULES[question_type]
        label = "Rubric" if question_type == "single-session-preference" else "Correct answer"
    else:
        raise BadInputError(f"unknown LongMemEval question type {question_type!r} "
                         f"(known: {', '.join(_LME_RULES)})")
    user = (f"You get a question, a reference and a model's response. {rule}\n\n"
            f"Question: {question.strip()}\n\n{label}: {reference.strip()}\n\n"
            f"Model response: {response.strip()}\n\nIs the model response correct? Answer yes or no only.")
    return [{"role": "user", "content": user}]


async def judge_longmemeval(judge: JudgeFn, question_type: str, question: str, reference: str, response: str,
                            *, question_id: str = "", max_tokens: int | None = None) -> Score:
    """Grade the solver's whole `response`; `max_tokens` limits the verdict (10 in the reference)."""
    if not response.strip():
        return Score(0.0, "empty response")
    messages = longmemeval_messages(question_type, question, reference, response,
                                    abstention=is_abstention(question_id))
    return await ask_for_verdict(judge, messages, max_tokens=max_tokens)
