"""Game of 24: the answer must use the puzzle's four numbers exactly once and equal 24 exactly."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from clue.bench.scorers.arith import ExpressionRejected, evaluate
from clue.bench.scorers.extract import strip_wrappers
from clue.bench.scorers.score import Score, correct, wrong

GOAL = Fraction(24)


def puzzle_numbers(task: str) -> list[int]:
    """"4 5 6 10" -> [4, 5, 6, 10]."""
    return [int(n) for n in re.findall(r"\d+", task)]


def score_game24(answer: str | None, numbers: list[int]) -> Score:
    if answer is None:
        return wrong("no answer found")
    sides = [side.strip() for side in strip_wrappers(answer).split("=")]
    expression = sides[0]
    if len(sides) > 1 and sides[-1] != "24":
        return wrong(f"claims {sides[-1][:20]!r}, not 24")
    try:
        result = evaluate(expression)
    except ExpressionRejected as exc:
        return wrong(f"rejected {expression[:60]!r}: {exc}")
    if Counter(result.numbers) != Counter(numbers):
        return wrong(f"uses {sorted(result.numbers)}, puzzle has {sorted(numbers)}")
    if result.value != GOAL:
        return wrong(f"evaluates to {result.value}, not 24")
    return correct()
