"""Any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server) via the official client."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient

from clue.llm.backends.streaming import NOTICE_AFTER_S, SilenceWatch, StreamedReply, read_events
from clue.llm.types import (
    Completion,
    ContextOverflowError,
    Decoding,
    EndpointFaultError,
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
                 json_mode: str = "auto", context_size: int | None = None, stream: bool = False) -> None:
        """`timeout_s`: the longest silence a request may meet (streamed: between two pieces of the reply;
        not streamed: the whole reply). `on_silent`, when set, is called once per request silent for
        `notice_after_s`."""
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.json_mode = json_mode
        self.stream = stream
        self._stream_usage = True  # ask for a usage chunk until the server refuses stream_options
        self._context_size = context_size
        self.on_silent: Callable[[str, str | None, float], None] | None = None  # (model, base URL, idle limit)
        self.notice_after_s = NOTICE_AFTER_S
        # Local servers ignore the key, but the client refuses to start without one.
        api_key = os.environ.get(api_key_env) or "not-needed"
        # The silence watch times every request; the transport's own limits only back it up.
        backstop = httpx2.Timeout(timeout_s + 30, connect=timeout_s)
        # aiohttp's transport costs about half of httpx's CPU per request, which matters at high concurrency.
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=backstop, max_retries=0,
                                   http_client=DefaultAioHttpClient(timeout=backstop))

    def _where(self, model: str) -> str:
        return f"{model} at {self.base_url or 'api.openai.com'}"

    def _body(self, model: str, messages: list[Message], decoding: Decoding,
              json_schema: dict[str, Any] | None, grammar: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages, "temperature": decoding.temperature,
                                "top_p": decoding.top_p, "max_tokens": decoding.max_tokens}
        if grammar is not None:
            body["grammar"] = grammar  # llama.cpp's server field; sent only where the config allows it
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
        return body

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None, grammar: str | None = None) -> Completion:
        body = self._body(model, messages, decoding, json_schema, grammar)
        started = time.perf_counter()
        on_silent = self.on_silent
        watch = SilenceWatch(self.timeout_s, notice_after_s=self.notice_after_s,
                             on_notice=(lambda: on_silent(model, self.base_url, self.timeout_s)) if on_silent else None)
        try:
            async with watch:
                reply = await (self._streamed(model, body, watch) if self.stream else self._whole(model, body))
        except TimeoutError:
            if not watch.expired:
                raise
            raise EndpointTimeoutError(f"{self._where(model)}: no reply within {self.timeout_s:g} s (nothing "
                                       "received for that long; idle_timeout_s sets the limit)") from None
        except openai.APIConnectionError as exc:  # the transport's own timeouts included
            # The aiohttp transport reports a refused connection as a (connect) timeout: look at the cause.
            if _refused(exc):
                raise EndpointRefusedError(f"{self._where(model)}: connection refused (is the server running "
                                           "and is the base URL right?)") from exc
            raise EndpointFaultError(f"{self._where(model)}: endpoint unreachable ({_cause(exc)})") from exc
        except httpx2.HTTPError as exc:  # the connection broke while the reply streamed
            raise EndpointFaultError(f"{self._where(model)}: connection lost mid-reply ({_cause(exc)})") from exc
        except openai.RateLimitError as exc:
            raise TransientLLMError(f"{self._where(model)}: rate limited (429)") from exc
        except openai.APIStatusError as exc:
            detail = str(exc.message).splitlines()[0][:200] if exc.message else ""
            if exc.status_code >= 500:
                raise EndpointFaultError(f"{self._where(model)}: server error {exc.status_code}: {detail}") from exc
            if exc.status_code == 400 and _context_exceeded(detail):
                # The server's own count (its tokenizer) says the prompt does not fit its window.
                raise ContextOverflowError(f"{self._where(model)}: context window exceeded: {detail}") from exc
            raise LLMError(f"{self._where(model)}: request rejected ({exc.status_code}): {detail}") from exc
        latency = time.perf_counter() - started
        return self._completion(model, reply, latency)

    async def _whole(self, model: str, body: dict[str, Any]) -> object:
        # The client's generic `post` returning the raw response skips the typed
        # `chat.completions.create` path, whose request transform and response model cost ~0.6 ms of CPU
        # per call; transport and error types are the same. We parse the body ourselves, so a
        # body that is not JSON is reported with the endpoint and its first bytes.
        raw = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        return self._json_body(model, raw)

    async def _streamed(self, model: str, body: dict[str, Any], watch: SilenceWatch) -> object:
        """Ask for a stream (with a usage chunk while the server accepts `stream_options`); a server that
        answers with one JSON body instead is read as such."""
        streamed = {**body, "stream": True}
        if self._stream_usage:
            streamed["stream_options"] = {"include_usage": True}
        try:
            # cast_to=Response: the raw response, its body not read yet (the SSE parsing is ours, see above).
            response: httpx2.Response = await self._client.post(  # type: ignore[assignment]
                "/chat/completions", body=streamed, cast_to=httpx2.Response, stream=True,
                stream_cls=AsyncStream[object])
        except openai.APIStatusError as exc:  # 400 or 422, depending on the server
            if exc.status_code >= 500 or not self._stream_usage or "stream_options" not in str(exc.message):
                raise
            self._stream_usage = False  # an older server: count the pieces instead
            return await self._streamed(model, body, watch)
        try:
            watch.touch()
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                return self._json_body(model, await response.aread())
            reply = StreamedReply()
            await read_events(response.aiter_lines(), watch, reply)
            if not reply.choices_seen and reply.error is None:  # not cut short: no completion was ever sent
                raise LLMError(f"{self._where(model)}: reply is not a chat completion (no choices): "
                               f"{reply.first_data or 'an empty stream'}")
            if reply.finish_reason is None and reply.error is None:
                # Ended before its last piece: llama-cpp-python's server, for one, cuts a stream short when
                # another request arrives. Such a server is asked for whole replies from now on.
                self.stream = False
                return await self._whole(model, body)
            prompt_chars = sum(len(str(message.get("content") or "")) for message in body["messages"])
            return reply.as_completion_body(prompt_estimate=int(prompt_chars / CHARS_PER_TOKEN_ESTIMATE) + 1)
        finally:
            await response.aclose()

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
