"""Any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server) via the official client."""

from __future__ import annotations

import os
import time
from typing import Any

import openai
from openai import AsyncOpenAI

from clue.llm.types import Completion, Decoding, LLMError, Message, TransientLLMError

DEFAULT_REMOTE_CONTEXT = 32768
# Without the model's tokenizer, count conservatively: English runs ~4 characters a token.
CHARS_PER_TOKEN_ESTIMATE = 3.0


def response_format_for(json_mode: str, base_url: str | None, schema: dict[str, Any]) -> dict[str, Any] | None:
    """llama.cpp's server wants json_object+schema; OpenAI's own API wants the json_schema form."""
    if json_mode == "auto":
        json_mode = "json_schema" if base_url is None or "api.openai.com" in base_url else "json_object_schema"
    if json_mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if json_mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    if json_mode == "json_object":
        return {"type": "json_object"}
    return None


class OpenAIBackend:
    name = "openai"

    def __init__(self, base_url: str | None, *, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 600.0,
                 json_mode: str = "auto", context_size: int | None = None) -> None:
        self.base_url = base_url
        self.json_mode = json_mode
        self._context_size = context_size
        # Local servers ignore the key, but the client refuses to start without one.
        api_key = os.environ.get(api_key_env) or "not-needed"
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    def _where(self, model: str) -> str:
        return f"{model} at {self.base_url or 'api.openai.com'}"

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        extra: dict[str, Any] = {}
        if json_schema is not None:
            response_format = response_format_for(self.json_mode, self.base_url, json_schema)
            if response_format is not None:
                extra["response_format"] = response_format
        if decoding.seed is not None:
            extra["seed"] = decoding.seed
        started = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(
                model=model, messages=messages,  # type: ignore[arg-type]
                temperature=decoding.temperature, top_p=decoding.top_p, max_tokens=decoding.max_tokens, **extra)
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise TransientLLMError(f"{self._where(model)}: endpoint unreachable ({type(exc).__name__})") from exc
        except openai.RateLimitError as exc:
            raise TransientLLMError(f"{self._where(model)}: rate limited (429)") from exc
        except openai.APIStatusError as exc:
            detail = str(exc.message).splitlines()[0][:200] if exc.message else ""
            if exc.status_code >= 500:
                raise TransientLLMError(f"{self._where(model)}: server error {exc.status_code}: {detail}") from exc
            raise LLMError(f"{self._where(model)}: request rejected ({exc.status_code}): {detail}") from exc
        latency = time.perf_counter() - started
        if not response.choices:
            raise TransientLLMError(f"{self._where(model)}: reply had no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=latency,
            finish_reason=choice.finish_reason or "stop",
        )

    def count_tokens(self, model: str, text: str) -> int:
        return int(len(text) / CHARS_PER_TOKEN_ESTIMATE) + 1

    def context_size(self, model: str) -> int | None:
        return self._context_size or DEFAULT_REMOTE_CONTEXT

    async def aclose(self) -> None:
        await self._client.close()
