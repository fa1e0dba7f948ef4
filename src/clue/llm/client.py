"""The one LLM entry point every other module uses: roles, context fitting, cache, retries, ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from clue.config import RoleConfig, Settings
from clue.llm.backends.base import Backend
from clue.llm.backends.streaming import NOTICE_AFTER_S
from clue.llm.cache import ResponseCache, cache_key
from clue.llm.context import fit_messages
from clue.llm.endpoints import EndpointPool
from clue.llm.ledger import Ledger
from clue.llm.scheduling import RankedSemaphore
from clue.llm.structured import json_schema_for, parse_structured
from clue.llm.text import ends_inside_thinking, strip_thinking
from clue.llm.types import (
    Completion,
    EndpointRefusedError,
    EndpointTimeoutError,
    LLMError,
    Message,
    Role,
    TransientLLMError,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
FROM_SETTINGS: Any = object()  # `cache=None` means no cache; the default opens the one the settings name
TIMEOUT_ATTEMPTS = 2  # a silent endpoint is tried twice, not `retries` times: its error comes in minutes


@dataclass
class StructuredResult(Generic[ModelT]):
    """A parsed reply, or the reason there is none. Structured calls never raise on bad JSON."""

    value: ModelT | None
    completion: Completion | None
    error: str | None = None
    attempts: int = 1
    notes: list[str] = field(default_factory=list)


def _constrains_answers(config: RoleConfig, backend: Backend) -> bool:
    """The role's setting; by default, whether the backend in use is an embedded one (a backend put in
    place of the configured one, as tests do, decides by its own kind)."""
    if config.constrained_answers is not None:
        return config.constrained_answers
    return backend.name in ("local", "local-server")


def make_backend(config: RoleConfig, base_url: str | None = FROM_SETTINGS) -> Backend:
    """The backend of `config` (for the openai backend: at `base_url`, by default the role's first)."""
    if config.backend == "openai":
        from clue.llm.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(config.base_url if base_url is FROM_SETTINGS else base_url,
                             api_key_env=config.api_key_env, timeout_s=config.idle_limit_s,
                             json_mode=config.json_mode, context_size=config.context_size, stream=config.stream)
    if config.backend == "local" and config.local_slots > 1:
        from clue.llm.backends.local_server import LocalServerBackend

        return LocalServerBackend(slots=config.local_slots, n_ctx=config.context_size, timeout_s=config.timeout_s)
    if config.backend == "local":
        from clue.llm.backends.local import LocalBackend

        return LocalBackend(n_ctx=config.context_size)
    from clue.llm.backends.scripted import ScriptedBackend

    return ScriptedBackend()


class LLM:
    def __init__(self, settings: Settings, *, backend: Backend | None = None, ledger: Ledger | None = None,
                 cache: ResponseCache | None = FROM_SETTINGS, retry_wait_s: float = 0.5) -> None:
        """`backend` replaces every role's backend (tests); otherwise one is made per endpoint."""
        self.settings = settings
        self.ledger = ledger or Ledger()
        if cache is FROM_SETTINGS:
            cache = ResponseCache(settings.cache_path) if settings.cache_path else None
        self.cache = cache
        self._override = backend
        self._backends: dict[str, Backend] = {}
        self._limits: dict[str, RankedSemaphore] = {}
        self._retry_wait_s = retry_wait_s
        # Called with a one-line notice when an endpoint stays silent (commands print it as a warning).
        self.on_notice: Callable[[str], None] | None = None
        self._notice_after_s = NOTICE_AFTER_S
        self._waiting: set[str] = set()

    @property
    def notice_after_s(self) -> float:
        """Silence (seconds without a byte from an endpoint) after which `on_notice` is told, once."""
        return self._notice_after_s

    @notice_after_s.setter
    def notice_after_s(self, seconds: float) -> None:
        self._notice_after_s = seconds
        for backend in self._openai_backends():
            backend.notice_after_s = seconds

    def _openai_backends(self) -> list[Any]:
        found: list[Any] = []
        for backend in self._backends.values():
            members = [e.backend for e in backend.endpoints] if isinstance(backend, EndpointPool) else [backend]
            found += [b for b in members if getattr(b, "name", "") == "openai" and hasattr(b, "on_silent")]
        return found

    def config(self, role: Role) -> RoleConfig:
        return self.settings.role(role)

    def backend(self, role: Role) -> Backend:
        if self._override is not None:
            return self._override
        config = self.config(role)
        endpoint = config.endpoint()
        if endpoint not in self._backends:
            self._backends[endpoint] = self._make_backend(config)
        return self._backends[endpoint]

    def _make_backend(self, config: RoleConfig) -> Backend:
        servers = config.endpoint_list()
        if config.backend != "openai" or len(servers) < 2:
            return self._watch(make_backend(config))
        members = [(server.url, self._watch(make_backend(config, server.url)),
                    config.in_flight_limit(max(1, round(config.concurrency * server.weight)))) for server in servers]
        return EndpointPool(members, on_change=self._tell)  # type: ignore[arg-type]

    def _watch(self, backend: Backend) -> Backend:
        """Silence notices: an openai backend tells us when a request has received nothing for a while."""
        if hasattr(backend, "on_silent"):
            backend.on_silent = self._notice_silent  # type: ignore[attr-defined]
            backend.notice_after_s = self._notice_after_s  # type: ignore[attr-defined]
        return backend

    def _tell(self, line: str) -> None:
        if self.on_notice is not None:
            self.on_notice(line)

    def _limit(self, role: Role) -> RankedSemaphore:
        config = self.config(role)
        endpoint = config.endpoint()
        if endpoint not in self._limits:
            backend = self.backend(role)
            # Ranked: a started rollout's next call overtakes new rollouts' first calls (progressive results).
            self._limits[endpoint] = (backend.limit if isinstance(backend, EndpointPool)
                                      else RankedSemaphore(config.in_flight_limit(config.concurrency),
                                                           fill_tail=config.backend == "openai"))
        return self._limits[endpoint]

    def slots(self, role: Role) -> int:
        """How many calls of `role` may be in flight at once (over all its endpoints in service)."""
        return self._limit(role).capacity

    def endpoint_report(self) -> list[dict[str, Any]]:
        """Per endpoint of a pool: calls answered, faults, in service or not."""
        return [row for backend in self._backends.values() if isinstance(backend, EndpointPool)
                for row in backend.report()]

    def count_tokens(self, role: Role, text: str) -> int:
        return self.backend(role).count_tokens(self.config(role).model, text)

    async def chat(self, role: Role, messages: list[Message], *, repeat: int = 0, max_tokens: int | None = None,
                   cuttable_index: int | None = None, json_schema: dict[str, Any] | None = None,
                   temperature: float | None = None, stop: tuple[str, ...] = (),
                   answer_grammar: str | None = None) -> Completion:
        """One call for `role`. `cuttable_index` names the message that may be cut to fit the context;
        `max_tokens`, `temperature` and `stop` (strings that end the reply) replace the role's for this call
        (a task's own decoding).

        `answer_grammar` (GBNF) constrains the reply only where the role's `constrained_answers` is on (by
        default: the embedded backend); elsewhere the reply stays free text."""
        config = self.config(role)
        backend = self.backend(role)
        grammar = answer_grammar if _constrains_answers(config, backend) else None
        decoding = config.decoding(repeat=repeat, max_tokens=max_tokens, temperature=temperature, stop=stop)
        notes: list[str] = []
        context_size = config.context_size or backend.context_size(config.model)
        if context_size is not None:
            fitted = fit_messages(messages, context_size=context_size, max_tokens=decoding.max_tokens,
                                  count=lambda text: backend.count_tokens(config.model, text),
                                  cuttable_index=cuttable_index, model=config.model)
            messages = fitted.messages
            if fitted.note:
                notes.append(fitted.note)
        if self.cache is None:
            completion = await self._call_with_retries(role, backend, messages, decoding, json_schema, grammar)
        else:
            key = cache_key(config.endpoint(), config.model, messages, decoding, json_schema, grammar)
            cached = self.cache.get(key)
            if cached is None:
                completion = await self._call_with_retries(role, backend, messages, decoding, json_schema,
                                                           grammar)
                self.cache.put(key, completion)
            else:
                completion = cached
        self.ledger.record(role, completion)
        raw = completion.text
        if config.strip_thinking:
            completion.text = strip_thinking(raw)
            if completion.text != raw:
                completion.raw_text = raw
        if completion.truncated:
            completion.cut_in_thinking = completion.cut_in_thinking or ends_inside_thinking(raw) or (
                bool(decoding.thinking) and not completion.text.strip())
            if completion.cut_in_thinking:
                notes.append(f"{role} reply cut off inside <think> at the {decoding.max_tokens}-token limit: "
                             f"it has no answer (raise {role}.max_tokens)")
            else:
                notes.append(f"{role} reply hit the {decoding.max_tokens}-token limit")
        completion.notes = notes + completion.notes
        completion.sent_messages = messages
        return completion

    async def _call_with_retries(self, role: Role, backend: Backend, messages: list[Message], decoding: Any,
                                 json_schema: dict[str, Any] | None, grammar: str | None = None) -> Completion:
        config = self.config(role)
        attempts = max(config.retries, 1)
        try:
            async with self._limit(role):
                # The first attempt runs bare: building tenacity's machinery costs more than a fast call.
                try:
                    return await self._watched(role, backend, messages, decoding, json_schema, grammar)
                except TransientLLMError as exc:
                    if not _worth_retrying(exc, 2, attempts):
                        raise
                # Retries wait retry_wait_s x 1, 2, 4, ... (at most 30 s) before attempts 2, 3, 4, ...
                await asyncio.sleep(min(self._retry_wait_s, 30))
                retrying = AsyncRetrying(
                    stop=lambda state: not _worth_retrying(
                        state.outcome.exception() if state.outcome else None, state.attempt_number + 2, attempts),
                    wait=wait_exponential(multiplier=2 * self._retry_wait_s, max=30),
                    retry=retry_if_exception_type(TransientLLMError),
                    reraise=True,
                )
                async for attempt in retrying:
                    with attempt:
                        return await self._watched(role, backend, messages, decoding, json_schema, grammar)
        except TransientLLMError as exc:
            self.ledger.record_failure(role)
            raise type(exc)(f"{exc} (gave up after {_tried(exc, attempts)})") from exc
        except LLMError:
            self.ledger.record_failure(role)
            raise
        raise AssertionError("unreachable: tenacity either returns or reraises")

    async def _watched(self, role: Role, backend: Backend, messages: list[Message], decoding: Any,
                       json_schema: dict[str, Any] | None, grammar: str | None = None) -> Completion:
        """One backend call, labelled with the endpoint that answered."""
        config = self.config(role)
        if grammar is None:  # backends written before grammars (test doubles) keep working
            completion = await backend.complete(config.model, messages, decoding, json_schema)
        else:
            completion = await backend.complete(config.model, messages, decoding, json_schema, grammar=grammar)
        if config.backend == "openai":
            completion.endpoint = completion.endpoint or config.base_url or "api.openai.com"
            self._waiting.discard(completion.endpoint)
        return completion

    def _notice_silent(self, model: str, base_url: str | None, idle_s: float) -> None:
        """Once per endpoint until it answers again: a request has received nothing for `notice_after_s`."""
        where = base_url or "api.openai.com"
        if where in self._waiting or self.on_notice is None:
            return
        self._waiting.add(where)
        retries = [min(c.retries, TIMEOUT_ATTEMPTS) - 1 for c in self.settings.roles.values()
                   if c.model == model and base_url in (c.base_url, *c.endpoint_urls())]
        self.on_notice(f"waiting for {model} at {where}: no reply for {self._notice_after_s:g} s "
                       f"(idle_timeout_s={idle_s:g} s, then {max(max(retries, default=1), 0)} retry)")

    async def structured(self, role: Role, messages: list[Message], model: type[ModelT], *, repeat: int = 0,
                         max_tokens: int | None = None,
                         cuttable_index: int | None = None, attempts: int = 2) -> StructuredResult[ModelT]:
        """Ask for JSON matching `model`: parse, repair, re-ask with the error (up to `attempts` tries in all),
        else report failure. With the role's `json_mode = "none"` the server gets no schema (free text, the
        JSON parsed from it)."""
        schema = json_schema_for(model) if self.config(role).json_mode != "none" else None
        conversation = list(messages)
        error = ""
        completion: Completion | None = None
        tries = max(attempts, 1)
        for attempt in range(1, tries + 1):
            completion = await self.chat(role, conversation, repeat=repeat, max_tokens=max_tokens,
                                         cuttable_index=cuttable_index, json_schema=schema)
            try:
                return StructuredResult(parse_structured(completion.text, model), completion, attempts=attempt,
                                        notes=completion.notes)
            except ValueError as exc:
                error = str(exc)
            conversation = [*messages, {"role": "assistant", "content": completion.text[:2000]},
                            {"role": "user", "content": f"That reply was not usable ({error}). "
                             "Answer again with one JSON object that matches the schema, and nothing else."}]
        return StructuredResult(None, completion, error=f"{role} reply is not valid JSON: {error}", attempts=tries)

    async def aclose(self) -> None:
        for backend in {id(b): b for b in [*self._backends.values(), self._override] if b}.values():
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()


def _worth_retrying(exc: BaseException | None, next_attempt: int, attempts: int) -> bool:
    """Whether attempt number `next_attempt` should run after `exc`: a refused connection is final at once,
    a timeout gets TIMEOUT_ATTEMPTS tries in all, other transient faults `attempts`."""
    if isinstance(exc, EndpointRefusedError):
        return False
    limit = min(attempts, TIMEOUT_ATTEMPTS) if isinstance(exc, EndpointTimeoutError) else attempts
    return next_attempt <= limit


def _tried(exc: BaseException, attempts: int) -> str:
    if isinstance(exc, EndpointRefusedError):
        return "1 attempt"
    count = min(attempts, TIMEOUT_ATTEMPTS) if isinstance(exc, EndpointTimeoutError) else attempts
    return f"{count} attempt{'s' if count > 1 else ''}"
