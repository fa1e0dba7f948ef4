"""Guardrails on candidate prompts: reject truncated, over-long or training-leaking candidates, with a reason.

- truncated: the optimizer's reply hit its token limit, or the prompt ends unterminated (an unclosed code
  fence, a block tag opened on its own line and never closed, a heading with no body at the end);
- too long: over `EvolveSettings.max_prompt_chars`;
- leaking: any `n`-word shingle (default 8) of the candidate, not already in the base prompt, appears in a
  training pair's source or target text: a prompt must generalize, not memorize examples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from clue.bench.data.records import Pair

_WORD = re.compile(r"[a-z0-9]+")
_BLOCK_OPEN = re.compile(r"^\s*<([A-Za-z][\w-]*)>\s*$")
_FENCE = "```"


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _unclosed_block_tags(text: str) -> list[str]:
    lines = text.splitlines()
    found: list[str] = []
    for number, line in enumerate(lines):
        match = _BLOCK_OPEN.match(line)
        if match and f"</{match.group(1)}>" not in "\n".join(lines[number + 1:]):
            found.append(match.group(1))
    return found


def unterminated(text: str, base_text: str = "") -> str | None:
    """The reason the text looks cut off, or None. Constructs already in the base prompt are not held
    against the candidate."""
    if text.count(_FENCE) % 2 and not base_text.count(_FENCE) % 2:
        return "unclosed code fence"
    already = set(_unclosed_block_tags(base_text))
    for tag in _unclosed_block_tags(text):
        if tag not in already:
            return f"unclosed <{tag}> block"
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    if lines and lines[-1].lstrip().startswith("#"):
        return f"heading with no body at the end ({lines[-1].strip()[:60]})"
    return None


def pair_texts(pair: Pair) -> list[str]:
    """The training text a candidate must not copy: every source turn and every string in the target."""
    texts = [turn.content for turn in pair.source_messages]

    def strings(value: object) -> Iterable[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from strings(item)
        elif value is not None and not isinstance(value, bool | int | float):
            yield json.dumps(value, default=str)

    texts.extend(strings(pair.target))
    return texts


class LeakChecker:
    """Streams the training texts for each check: no index of millions of shingles is kept in memory."""

    def __init__(self, texts: Iterable[str], n: int = 8) -> None:
        self.texts = list(texts)
        self.n = n

    @classmethod
    def for_pairs(cls, pairs: Iterable[Pair], n: int = 8) -> LeakChecker:
        return cls((text for pair in pairs for text in pair_texts(pair)), n)

    def find(self, text: str, base_text: str = "") -> str | None:
        """The first leaked shingle (as text), or None."""
        fresh = shingles(words(text), self.n) - shingles(words(base_text), self.n)
        if not fresh:
            return None
        heads = {s[0] for s in fresh}
        for source in self.texts:
            tokens = words(source)
            for i in range(len(tokens) - self.n + 1):
                if tokens[i] in heads:
                    window = tuple(tokens[i:i + self.n])
                    if window in fresh:
                        return " ".join(window)
        return None


def check_candidate(text: str, *, base_text: str, truncated: bool, max_chars: int,
                    leaks: LeakChecker | None) -> str | None:
    """The reason to reject the candidate, or None when it may enter the tournament."""
    if truncated:
        return "truncated: the optimizer reply hit its token limit"
    cut = unterminated(text, base_text)
    if cut:
        return f"truncated: {cut}"
    if len(text) > max_chars:
        return f"too long: {len(text)} characters, cap {max_chars}"
    leaked = leaks.find(text, base_text) if leaks is not None else None
    if leaked:
        return f"leaks training text: {leaked[:80]!r}"
    return None
