"""AIME: integer answers compared exactly."""

from __future__ import annotations

import re

from clue.bench.scorers.extract import strip_wrappers
from clue.bench.scorers.score import Score, correct, wrong

_INTEGER = re.compile(r"^[+-]?\d+$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:(?:,|\\,| )\d{3})+$")
_DECIMAL_ZERO = re.compile(r"\.0+$")  # "33.0" is still 33


def parse_integer(answer: str) -> int | None:
    text = strip_wrappers(answer)
    text = re.sub(r"^(?i:the\s+)?(?i:answer|final answer)\s*(?:is)?\s*[:=]?\s*", "", text)
    text = strip_wrappers(text.rstrip("."))
    text = text.replace("{,}", ",")  # LaTeX thousands separator
    for noise in ("\\$", "$", "{}"):
        text = text.replace(noise, "").strip()
    if _GROUPED.match(text):  # "1,024", "1 024", "1\\,024": thousands separators, nothing else
        text = re.sub(r"\\,|[, ]", "", text)
    text = _DECIMAL_ZERO.sub("", text)
    if not _INTEGER.match(text) or len(text) > 30:
        return None
    return int(text)


def score_integer(answer: str | None, target: str) -> Score:
    if answer is None:
        return wrong("no answer found")
    expected = parse_integer(target)
    if expected is None:
        return wrong(f"target {target!r} is not an integer")
    got = parse_integer(answer)
    if got is None:
        return wrong(f"not an integer: {answer[:60]!r}")
    return correct() if got == expected else wrong(f"got {got}, expected {expected}")
