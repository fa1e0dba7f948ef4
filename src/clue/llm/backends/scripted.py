"""A deterministic test double: replies come from a function of the request, or from a fixed queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clue.llm.types import Completion, Decoding, LLMError, Message


@dataclass(frozen=True)
class ScriptedCall:
    model: str
    messages: list[Message]
    decoding: Decoding
    json_schema: dict[str, Any] | None
    grammar: str | None = None


Responder = Callable[[ScriptedCall], str]


def _default_responder(call: ScriptedCall) -> str:
    """Echo-like behaviour that still exercises the whole pipeline: JSON when a schema is asked for."""
    if call.json_schema is not None:
        return json.dumps({})
    return "1. nothing notable\n<answer>A</answer>"


class ScriptedBackend:
    name = "scripted"

    def __init__(self, responder: Responder | list[str] | None = None, *, context_size: int = 32768,
                 latency_s: float = 0.0, fail_with: Exception | None = None) -> None:
        self._queue = list(responder) if isinstance(responder, list) else None
        self._responder = responder if callable(responder) else _default_responder
        self._context_size = context_size
        self.latency_s = latency_s
        self.fail_with = fail_with
        self.calls: list[ScriptedCall] = []

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None, grammar: str | None = None) -> Completion:
        call = ScriptedCall(model, [dict(m) for m in messages], decoding, json_schema,  # type: ignore[misc]
                            grammar)
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self._queue is not None:
            if not self._queue:
                raise LLMError(f"scripted backend ({model}): reply queue is empty")
            text = self._queue.pop(0)
        else:
            text = self._responder(call)
        prompt_tokens = sum(self.count_tokens(model, m["content"]) for m in messages)
        return Completion(text=text, prompt_tokens=prompt_tokens,
                          completion_tokens=self.count_tokens(model, text), latency_s=self.latency_s)

    def count_tokens(self, model: str, text: str) -> int:
        return len(text.split()) + 1

    def context_size(self, model: str) -> int | None:
        return self._context_size

    async def aclose(self) -> None:
        return None
