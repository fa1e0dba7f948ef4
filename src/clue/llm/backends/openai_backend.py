"""Any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server) via the official client."""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Any

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from clue.llm.types import (
    Completion,
    ContextOverflowError,
    Decoding,
    EndpointRefusedError,
    EndpointTimeoutError,
    LLMError,
    Message,
    TransientLLMError,
)

DEFAULT_REMOTE_CONTEXT = 40960  # Qwen3-32B's window, as the reference serves it
# Without the model's tokenizer, count conservatively: English runs ~4 characters a token.
CHARS_PER_TOKEN_ESTIMATE = 3.0


def is_openai_api(base_url: str | None) -> bool:
    return base_url is None or "api.openai.com" in base_url


def response_format_for(json_mode: str, base_url: str | None, schema: dict[str, Any]) -> dict[str, Any] | None:
    """llama.cpp's server wants json_object+schema; OpenAI's own API wants the json_schema form."""
    if json_mode == "auto":
        json_mode = "json_schema" if is_openai_api(base_url) else "json_object_schema"
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
        self.timeout_s = timeout_s
        self.json_mode = json_mode
        self._context_size = context_size
        # Local servers ignore the key, but the client refuses to start without one.
        api_key = os.environ.get(api_key_env) or "not-needed"
        # aiohttp's transport costs about half of httpx's CPU per request, which matters at high concurrency.
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0,
                                   http_client=DefaultAioHttpClient(timeout=timeout_s))

    def _where(self, model: str) -> str:
        return f"{model} at {self.base_url or 'api.openai.com'}"

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        body: dict[str, Any] = {"model": model, "messages": messages, "temperature": decoding.temperature,
                                "top_p": decoding.top_p, "max_tokens": decoding.max_tokens}
        if json_schema is not None:
            response_format = response_format_for(self.json_mode, self.base_url, json_schema)
            if response_format is not None:
                body["response_format"] = response_format
        if decoding.seed is not None:
            body["seed"] = decoding.seed
        if decoding.stop:
            body["stop"] = list(decoding.stop)
        if decoding.thinking is not None and not is_openai_api(self.base_url):
            # What the OpenAI client sends as extra_body={"chat_template_kwargs": ...}: vLLM and SGLang pass
            # it to the chat template (Qwen3's switch). OpenAI's own API has no such argument.
            body["chat_template_kwargs"] = {"enable_thinking": decoding.thinking}
        started = time.perf_counter()
        try:
            # The client's generic `post` returning the raw response skips the typed
            # `chat.completions.create` path, whose request transform and response model cost ~0.6 ms of CPU
            # per call; transport, timeouts and error types are the same. We parse the body ourselves, so a
            # body that is not JSON is reported with the endpoint and its first bytes.
            raw = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        except openai.APIConnectionError as exc:  # APITimeoutError included
            # The aiohttp transport reports a refused connection as a (connect) timeout: look at the cause.
            if _refused(exc):
                raise EndpointRefusedError(f"{self._where(model)}: connection refused (is the server running "
                                           "and is the base URL right?)") from exc
            if isinstance(exc, openai.APITimeoutError):
                raise EndpointTimeoutError(f"{self._where(model)}: no reply within {self.timeout_s:g} s "
                                           "(timeout_s sets the limit)") from exc
            raise TransientLLMError(f"{self._where(model)}: endpoint unreachable ({_cause(exc)})") from exc
        except openai.RateLimitError as exc:
            raise TransientLLMError(f"{self._where(model)}: rate limited (429)") from exc
        except openai.APIStatusError as exc:
            detail = str(exc.message).splitlines()[0][:200] if exc.message else ""
            if exc.status_code >= 500:
                raise TransientLLMError(f"{self._where(model)}: server error {exc.status_code}: {detail}") from exc
            if exc.status_code == 400 and _context_exceeded(detail):
                # The server's own count (its tokenizer) says the prompt does not fit its window.
                raise ContextOverflowError(f"{self._where(model)}: context window exceeded: {detail}") from exc
            raise LLMError(f"{self._where(model)}: request rejected ({exc.status_code}): {detail}") from exc
        latency = time.perf_counter() - started
        return self._completion(model, self._json_body(model, raw), latency)

    def _json_body(self, model: str, raw: bytes) -> object:
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            first = raw[:80].decode("utf-8", errors="replace").strip()
            raise LLMError(f"{self._where(model)}: reply is not a chat completion ({len(raw)} bytes, not "
                           f"JSON): {first!r}") from None

    def _completion(self, model: str, reply: object, latency: float) -> Completion:
        if not isinstance(reply, dict):
            first = str(reply).strip().splitlines()[0][:120] if str(reply).strip() else ""
            raise LLMError(f"{self._where(model)}: reply is not a chat completion: {first!r}")
        choices = reply.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            first = json.dumps(reply)[:200]
            if _transient_error_body(reply.get("error")):  # an overload reported inside a 200
                raise TransientLLMError(f"{self._where(model)}: server error in a 200 reply: {first}")
            # Asking again gets the same reply: not retried.
            raise LLMError(f"{self._where(model)}: reply is not a chat completion (no choices): {first}")
        choice = choices[0]
        message = choice.get("message") or {}
        usage = reply.get("usage") or {}
        text = message.get("content") or ""
        finish_reason = choice.get("finish_reason") or "stop"
        # Servers with a reasoning parser return the thinking apart; a reply cut off inside it has no content.
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency,
            finish_reason=finish_reason,
            cut_in_thinking=finish_reason == "length" and not text.strip() and bool(str(reasoning).strip()),
        )

    def count_tokens(self, model: str, text: str) -> int:
        return int(len(text) / CHARS_PER_TOKEN_ESTIMATE) + 1

    def context_size(self, model: str) -> int | None:
        return self._context_size or DEFAULT_REMOTE_CONTEXT

    async def aclose(self) -> None:
        await self._client.close()


def _context_exceeded(detail: str) -> bool:
    """vLLM, SGLang and OpenAI word it differently; all name the context and its length or limit."""
    lowered = detail.lower()
    return "context" in lowered and ("length" in lowered or "limit" in lowered or "window" in lowered)


def _transient_error_body(error: object) -> bool:
    """Whether an `error` object inside a 200 reply names an overload (429 or 5xx) rather than a refusal."""
    if not isinstance(error, dict):
        return False
    code = error.get("code") or error.get("status")
    return str(code).isdigit() and (int(str(code)) == 429 or int(str(code)) >= 500)


def _refused(exc: BaseException) -> bool:
    """True when the connection was refused (nothing listens), anywhere in the exception's causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        if isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED:
            return True
        os_error = getattr(seen, "os_error", None)  # aiohttp's ClientConnectorError
        if isinstance(os_error, OSError) and os_error.errno == errno.ECONNREFUSED:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cause(exc: BaseException) -> str:
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = str(root).splitlines()[0][:160] if str(root) else ""
    return f"{type(root).__name__}: {text}" if text else type(root).__name__
