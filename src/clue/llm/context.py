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
    if remove_chars <= 0:
        return text
    remove_chars = min(remove_chars + len(CUT_MARKER), len(text))
    keep = len(text) - remove_chars
    head = keep // 2
    tail = keep - head
    marker = CUT_MARKER.format(n=remove_chars)
    return text[:head] + marker + (text[len(text) - tail:] if tail else "")


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
    fitted = list(messages)
    content = original
    for _ in range(4):  # token counts are not linear in characters; converge in a few passes
        excess = used - budget
        chars_per_token = max(len(content) / max(count(content), 1), 1.0)
        content = cut_middle(content, int(excess * chars_per_token * 1.1) + 16)
        fitted[cuttable_index] = {"role": messages[cuttable_index]["role"], "content": content}
        used = prompt_tokens(fitted, count)
        if used <= budget:
            return FitResult(fitted, len(original) - len(content), used)
        if len(content) <= len(CUT_MARKER) + 32:
            break
    raise ContextOverflowError(
        f"{model}: even after cutting the source, the request needs {used} prompt tokens "
        f"and only {budget} fit; raise context_size or lower max_tokens")
