"""Multiple-choice scoring by option letter (MemBench, PersonaMem, PrefEval, MMLU-Pro, GPQA)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from clue.bench.scorers.extract import strip_wrappers
from clue.bench.scorers.score import Score, correct, wrong

_BARE_LETTER = re.compile(r"^[(\[]?([A-Za-z])[)\]]?[.:]?$")
_LETTER_THEN_TEXT = re.compile(r"^[(\[]?([A-Z])[).:\]]\s+\S.*$", re.DOTALL)
_LABELLED_LETTER = re.compile(
    r"^(?i:(?:the\s+)?(?:correct\s+|final\s+|best\s+)?(?:answer|option|choice)(?:\s+is)?)\s*[:\-]?\s*"
    r"[(\[]?([A-Z])[)\]]?(?:[\s.:].*)?$",
    re.DOTALL,
)
_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s?(.*)$")


def letter_of(marker: str) -> str:
    """"(C)" or "C" -> "C"."""
    return marker.strip().strip("()[] ").upper()


def options_from_text(text: str) -> dict[str, str]:
    """Options listed as "(A) text" lines after an "Options:" line (MMLU-Pro, GPQA inputs)."""
    _, found, tail = text.partition("Options:")
    if not found:
        return {}
    options: dict[str, str] = {}
    current: str | None = None
    for line in tail.splitlines():
        match = _OPTION_LINE.match(line.strip())
        if match:
            current = match.group(1)
            options[current] = match.group(2).strip()
        elif current is not None and line.strip():
            options[current] += "\n" + line.strip()
    return options


def _normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".").strip().lower()


def parse_choice(answer: str, options: Mapping[str, str]) -> str | None:
    """The option letter an answer picks, or None when it picks none or is ambiguous."""
    text = strip_wrappers(answer)
    for pattern in (_BARE_LETTER, _LETTER_THEN_TEXT, _LABELLED_LETTER):
        match = pattern.match(text)
        if match:
            letter = match.group(1).upper()
            return letter if letter in options else None
    wanted = _normalise_text(text)
    same_text = [letter for letter, option in options.items() if _normalise_text(option) == wanted]
    return same_text[0] if len(same_text) == 1 else None


def score_choice(answer: str | None, correct_letter: str, options: Mapping[str, str]) -> Score:
    if answer is None:
        return wrong("no answer found")
    picked = parse_choice(answer, options)
    if picked is None:
        return wrong(f"no option picked in {answer[:60]!r}")
    if picked == letter_of(correct_letter):
        return correct(picked)
    return wrong(f"picked {picked}, correct {letter_of(correct_letter)}")
