"""The protocol every backend implements. Backends know nothing about roles, caching or the ledger."""

from __future__ import annotations

from typing import Any, Protocol

from clue.llm.types import Completion, Decoding, Message


class Backend(Protocol):
    name: str

    async def complete(
        self,
        model: str,
        messages: list[Message],
        decoding: Decoding,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
    ) -> Completion:
        """One chat completion. Raise TransientLLMError for retryable faults, LLMError otherwise.

        `grammar` is a llama.cpp GBNF grammar the reply must match (embedded and llama.cpp backends)."""
        ...

    def count_tokens(self, model: str, text: str) -> int:
        """Token count of `text` for `model`; an upper-bound estimate is acceptable for remote models."""
        ...

    def context_size(self, model: str) -> int | None:
        """The model's context window in tokens, when the backend knows it."""
        ...

    async def aclose(self) -> None: ...
