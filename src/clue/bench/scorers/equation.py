"""MathEquationBalancer: fill `+ - * /` between the given numbers so the equation holds.

Any operator sequence that makes the equation true is accepted, not only the dataset's own solution:
the question asks for a correct equation, and the released reference labels accept alternatives too.
`×` and `÷` count as `*` and `/` (the reference rejects them; see docs/rescore_findings.md). The
numbers must stay as given and in order, with no parentheses, and the left side is computed with the
usual precedence in exact fractions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from clue.bench.scorers.arith import ExpressionRejected, evaluate, normalise_operators
from clue.bench.scorers.extract import strip_wrappers
from clue.bench.scorers.score import Score, correct, wrong

_QUESTION = re.compile(r"^\s*(\d+(?:\s*\?\s*\d+)+)\s*=\s*(-?\d+)\s*$")
_FILLED = re.compile(r"^\s*\d+(?:\s*[+\-*/]\s*\d+)+\s*$")


@dataclass(frozen=True)
class BalanceQuestion:
    numbers: tuple[int, ...]
    result: int


def parse_question(task: str) -> BalanceQuestion | None:
    """"14 ? 16 ? 20 = 25" -> numbers (14, 16, 20), result 25."""
    match = _QUESTION.match(task)
    if match is None:
        return None
    numbers = tuple(int(n) for n in re.findall(r"\d+", match.group(1)))
    return BalanceQuestion(numbers, int(match.group(2)))


def score_equation(answer: str | None, question: BalanceQuestion) -> Score:
    if answer is None:
        return wrong("no answer found")
    sides = [side.strip() for side in normalise_operators(strip_wrappers(answer)).split("=")]
    left = sides[0]
    if len(sides) > 2:
        return wrong(f"more than one '=' in {answer[:60]!r}")
    if len(sides) == 2 and _as_int(sides[1]) != question.result:
        return wrong(f"right-hand side {sides[1][:20]!r} is not {question.result}")
    if not _FILLED.match(left):
        return wrong(f"not the numbers joined by + - * /: {left[:60]!r}")
    try:
        evaluated = evaluate(left)
    except ExpressionRejected as exc:
        return wrong(f"rejected {left[:60]!r}: {exc}")
    if evaluated.numbers != question.numbers:
        return wrong(f"numbers {list(evaluated.numbers)} differ from {list(question.numbers)}")
    if evaluated.value != Fraction(question.result):
        return wrong(f"left side is {evaluated.value}, not {question.result}")
    return correct()


def _as_int(text: str) -> int | None:
    text = text.replace(" ", "")
    return int(text) if re.fullmatch(r"[+-]?\d{1,30}", text) else None
