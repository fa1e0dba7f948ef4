"""Multiple-choice scoring by option letter (MemBench, PersonaMem, PrefEval, MMLU-Pro, GPQA)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

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
    """The option letter an answer picks, or None when it picks none or is ambiguous.

    A letter (bare, labelled, or leading the option's text) wins; otherwise an answer that names exactly
    one option's text picks it (`Flask` when one option is Flask; stray tags such as `<C>Flask</C>` are
    dropped first, since the text says more than a tag a small model made up)."""
    text = strip_wrappers(answer)
    letter = _letter_in(text, options)
    if letter is not None:
        return letter
    untagged = strip_wrappers(_STRAY_TAG.sub(" ", text))
    return _option_named(untagged, options) or _option_named(text, options) or _letter_in(untagged, options)


_STRAY_TAG = re.compile(r"</?[A-Za-z][^<>]{0,20}>")
_MIN_NAMED_CHARS = 3


def _letter_in(text: str, options: Mapping[str, str]) -> str | None:
    for pattern in (_BARE_LETTER, _LETTER_THEN_TEXT, _LABELLED_LETTER):
        match = pattern.match(text)
        if match:
            letter = match.group(1).upper()
            return letter if letter in options else None
    return None


def _option_named(text: str, options: Mapping[str, str]) -> str | None:
    """The one option whose text equals the answer, else the one option whose text the answer contains
    as whole words, else the one option that contains the answer as whole words; None when not unique."""
    wanted = _normalise_text(text)
    if not wanted:
        return None
    texts = {letter: _normalise_text(option) for letter, option in options.items()}
    tests: list[Callable[[str], bool]] = [lambda option: option == wanted]
    if len(wanted) >= _MIN_NAMED_CHARS:  # a short answer inside a longer text could be anything
        tests += [lambda option: _has_words(wanted, option), lambda option: _has_words(option, wanted)]
    for test in tests:
        hits = [letter for letter, option in texts.items() if option and test(option)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None
    return None


def _has_words(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def score_choice(answer: str | None, correct_letter: str, options: Mapping[str, str]) -> Score:
    if answer is None:
        return wrong("no answer found")
    picked = parse_choice(answer, options)
    if picked is None:
        return wrong(f"no option picked in {answer[:60]!r}")
    if picked == letter_of(correct_letter):
        return correct(picked)
    return wrong(f"picked {picked}, correct {letter_of(correct_letter)}")
