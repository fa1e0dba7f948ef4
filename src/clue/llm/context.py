"""Fit a request into a model's context by cutting one message in the middle, keeping head and tail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clue.llm.types import ContextOverflowError, Message

# Chat templates add a few tokens of framing per message.
PER_MESSAGE_OVERHEAD = 8
CUT_MARKER = "\n[... {n} characters cut here to fit the context window ...]\n"


@dataclass(frozen=True)
class FitResult:
    messages: list[Message]
    cut_chars: int
    prompt_tokens: int

    @property
    def note(self) -> str | None:
        return f"source cut in the middle: {self.cut_chars} characters removed" if self.cut_chars else None


def prompt_tokens(messages: list[Message], count: Callable[[str], int]) -> int:
    return sum(count(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages)


def cut_middle(text: str, remove_chars: int) -> str:
    """`text` less about `remove_chars` characters (and the marker's length) from its middle."""
    if remove_chars <= 0:
        return text
    return keep_ends(text, len(text) - min(remove_chars + len(CUT_MARKER), len(text)))


def keep_ends(text: str, keep_chars: int) -> str:
    """`text` with only `keep_chars` characters kept, half from its head and half from its tail, and the
    cut marker between them."""
    if keep_chars >= len(text):
        return text
    keep = max(keep_chars, 0)
    head = keep // 2
    tail = keep - head
    return text[:head] + CUT_MARKER.format(n=len(text) - keep) + (text[len(text) - tail:] if tail else "")


# The first guess keeps this share of what the token estimate says fits; each further pass shrinks the
# kept text by the measured overshoot with this margin. Margins apply to what is kept or over, never to
# what is removed: a source far over the window still keeps about a window's worth.
FIRST_GUESS_SHARE = 0.97
OVERSHOOT_MARGIN = 1.1
PASSES = 8


def fit_messages(messages: list[Message], *, context_size: int, max_tokens: int,
                 count: Callable[[str], int], cuttable_index: int | None, model: str) -> FitResult:
    """Return messages that leave room for `max_tokens` of reply, or raise ContextOverflowError."""
    budget = context_size - max_tokens
    used = prompt_tokens(messages, count)
    if used <= budget:
        return FitResult(messages, 0, used)
    if cuttable_index is None:
        raise ContextOverflowError(
            f"{model}: request needs {used} prompt tokens but only {budget} fit "
            f"(context {context_size} minus {max_tokens} for the reply) and nothing may be cut")
    original = messages[cuttable_index]["content"]
    role = messages[cuttable_index]["role"]
    fitted = list(messages)
    room = budget - (used - count(original)) - count(CUT_MARKER.format(n=len(original)))
    keep = int(room * len(original) / max(count(original), 1) * FIRST_GUESS_SHARE)
    for _ in range(PASSES):
        keep = max(keep, 0)
        content = keep_ends(original, keep)
        fitted[cuttable_index] = {"role": role, "content": content}
        used = prompt_tokens(fitted, count)
        if used <= budget:
            return FitResult(fitted, len(original) - len(content), used)
        if keep == 0:
            break
        chars_per_token = max(keep / max(count(content), 1), 1.0)
        keep -= max(int((used - budget) * chars_per_token * OVERSHOOT_MARGIN) + 16, keep // 8)
    raise ContextOverflowError(
        f"{model}: even after cutting the source, the request needs {used} prompt tokens "
        f"and only {budget} fit; raise context_size or lower max_tokens")
