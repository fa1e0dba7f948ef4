"""LLM-judged scoring for open-ended answers (LongMemEval; later ToolBench).

The judge sees the question, the reference (a fact, or a description of what a good reply contains) and
the response, and replies with one verdict word. The prompt is our own wording.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from clue.bench.scorers.score import Score
from clue.llm.types import Message

JudgeFn = Callable[[list[Message]], Awaitable[str]]

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
        return Score(0.0, f"judge reply is ambiguous: {text[:80]!r}")
    match = _LEADING_VERDICT.match(text) or _LABELLED_VERDICT.search(text)
    if match is None:
        words = set(re.findall(r"\b(yes|no)\b", text.lower()))
        if len(words) == 1:
            match_word = words.pop()
            return Score(_REWARDS[match_word], f"judge: {match_word} (found in prose)")
        return Score(0.0, f"judge reply not understood: {text[:80]!r}")
    word = match.group(1).lower()
    if word == "unsure" and not allow_unsure:
        return Score(0.0, "judge said unsure, which this task does not allow")
    return Score(_REWARDS[word], f"judge: {word}")


async def judge_answer(
    judge: JudgeFn, question: str, reference: str, response: str, *, allow_unsure: bool = False
) -> Score:
    """Ask `judge` whether `response` answers `question` per `reference`, and score its verdict."""
    if not response.strip():
        return Score(0.0, "empty response")
    reply = await judge(judge_messages(question, reference, response, allow_unsure=allow_unsure))
    return parse_verdict(reply, allow_unsure=allow_unsure)
