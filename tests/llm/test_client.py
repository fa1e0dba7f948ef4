"""The LLM entry point: think-stripping, retries, cache, ledger, per-endpoint concurrency, repeat seeds."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from clue.config import Settings, load_settings, parse_role_overrides
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.llm.text import strip_thinking
from clue.llm.types import (
    Completion,
    ContextOverflowError,
    Decoding,
    LLMError,
    Message,
    TransientLLMError,
)

MESSAGES: list[Message] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "question"}]


def settings(*overrides: str, cache: Path | None = None, **cli: Any) -> Settings:
    env = {"CLUE_CACHE": str(cache)} if cache else {}
    return load_settings(env=env, cli={"backend": "scripted", "model": "m", **cli},
                         role_overrides=parse_role_overrides(list(overrides)), no_cache=cache is None)


class FlakyBackend(ScriptedBackend):
    """Fails with `error` for the first `failures` calls, then answers."""

    def __init__(self, failures: int, error: Exception, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.error = error

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        if self.failures > 0:
            self.failures -= 1
            self.calls.append(ScriptedCall(model, messages, decoding, json_schema))
            raise self.error
        return await super().complete(model, messages, decoding, json_schema)


class InFlightBackend(ScriptedBackend):
    """Measures how many calls are inside the backend at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await super().complete(model, messages, decoding, json_schema)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize(("raw", "clean"), [
    ("<think>long reasoning</think>\nThe answer is 4.", "The answer is 4."),
    ("<THINK>a\nb</THINK>x<think>c</think>y", "xy"),
    ("reasoning without opening tag</think> answer", "answer"),
    ("<think>cut off in the middle of reasoning", ""),
    ("plain answer  ", "plain answer"),
])
def test_strip_thinking(raw: str, clean: str) -> None:
    assert strip_thinking(raw) == clean


async def test_chat_strips_thinking_by_role_setting() -> None:
    replies = ["<think>hmm</think>4", "<think>hmm</think>4"]
    llm = LLM(settings("judge.strip_thinking=false"), backend=ScriptedBackend(replies))
    assert (await llm.chat("solver", MESSAGES)).text == "4"
    assert (await llm.chat("judge", MESSAGES)).text == "<think>hmm</think>4"


async def test_chat_passes_role_decoding() -> None:
    backend = ScriptedBackend()
    llm = LLM(settings("solver.temperature=0.3", "solver.max_tokens=77"), backend=backend)
    await llm.chat("solver", MESSAGES)
    await llm.chat("solver", MESSAGES, max_tokens=5, repeat=2)
    first, second = backend.calls
    assert first.decoding == Decoding(temperature=0.3, top_p=0.8, max_tokens=77, seed=42)
    assert second.decoding.max_tokens == 5 and second.decoding.seed == 44
    assert first.model == "m"


async def test_transient_errors_are_retried_then_succeed() -> None:
    backend = FlakyBackend(2, TransientLLMError("m at http://h/v1: server error 503"))
    llm = LLM(settings("solver.retries=3"), backend=backend, retry_wait_s=0.001)
    completion = await llm.chat("solver", MESSAGES)
    assert completion.text.endswith("<answer>A</answer>")
    assert len(backend.calls) == 3
    usage = llm.ledger.by_role["solver"]
    assert (usage.calls, usage.failed_calls) == (1, 0)


async def test_retries_exhausted_give_one_line_error() -> None:
    error = TransientLLMError("m at http://h:1/v1: endpoint unreachable (APIConnectionError)")
    backend = ScriptedBackend(fail_with=error)
    llm = LLM(settings("extractor.retries=4"), backend=backend, retry_wait_s=0.001)
    started = time.perf_counter()
    with pytest.raises(TransientLLMError) as info:
        await llm.chat("extractor", MESSAGES)
    assert time.perf_counter() - started < 1.0
    message = str(info.value)
    assert "\n" not in message
    assert "http://h:1/v1" in message and "gave up after 4 attempts" in message
    assert len(backend.calls) == 4
    usage = llm.ledger.by_role["extractor"]
    assert (usage.calls, usage.failed_calls) == (1, 1)


async def test_retry_waits_grow_exponentially() -> None:
    stamps: list[float] = []

    class Stamping(ScriptedBackend):
        async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                           json_schema: dict[str, Any] | None = None) -> Completion:
            stamps.append(time.perf_counter())
            raise TransientLLMError("down")

    llm = LLM(settings("solver.retries=4"), backend=Stamping(), retry_wait_s=0.02)
    with pytest.raises(TransientLLMError, match="gave up after 4 attempts"):
        await llm.chat("solver", MESSAGES)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, (0.02, 0.04, 0.08), strict=True):
        assert expected * 0.9 <= gap < expected + 0.25


async def test_zero_retries_means_one_attempt() -> None:
    backend = ScriptedBackend(fail_with=TransientLLMError("down"))
    llm = LLM(settings("solver.retries=0"), backend=backend, retry_wait_s=0.001)
    with pytest.raises(TransientLLMError, match="gave up after 1 attempt"):
        await llm.chat("solver", MESSAGES)
    assert len(backend.calls) == 1


async def test_permanent_errors_are_not_retried() -> None:
    backend = ScriptedBackend(fail_with=LLMError("m at http://h/v1: request rejected (400): bad"))
    llm = LLM(settings(), backend=backend, retry_wait_s=0.001)
    with pytest.raises(LLMError, match=r"request rejected \(400\)") as info:
        await llm.chat("solver", MESSAGES)
    assert not isinstance(info.value, TransientLLMError)
    assert len(backend.calls) == 1
    assert llm.ledger.by_role["solver"].failed_calls == 1


async def test_cache_makes_second_identical_call_free(tmp_path: Path) -> None:
    backend = ScriptedBackend(["<think>x</think>first", "second"])
    llm = LLM(settings(cache=tmp_path / "c.sqlite"), backend=backend)
    one = await llm.chat("solver", MESSAGES)
    two = await llm.chat("solver", MESSAGES)
    assert len(backend.calls) == 1
    assert one.text == two.text == "first"
    assert not one.cached and two.cached
    usage = llm.ledger.by_role["solver"]
    assert (usage.calls, usage.cached_calls) == (2, 1)
    assert usage.total_tokens == one.prompt_tokens + one.completion_tokens
    await llm.aclose()
    # A new client on the same file reuses the entry.
    again = LLM(settings(cache=tmp_path / "c.sqlite"), backend=ScriptedBackend([]))
    assert (await again.chat("solver", MESSAGES)).text == "first"
    await again.aclose()


async def test_cache_keys_on_schema_and_max_tokens(tmp_path: Path) -> None:
    backend = ScriptedBackend(["a", "b", "c"])
    llm = LLM(settings(cache=tmp_path / "c.sqlite"), backend=backend)
    await llm.chat("solver", MESSAGES)
    await llm.chat("solver", MESSAGES, max_tokens=3)
    await llm.chat("solver", MESSAGES, json_schema={"type": "object"})
    assert len(backend.calls) == 3
    await llm.aclose()


async def test_failures_are_not_cached(tmp_path: Path) -> None:
    backend = FlakyBackend(1, LLMError("rejected"))
    llm = LLM(settings(cache=tmp_path / "c.sqlite"), backend=backend)
    with pytest.raises(LLMError):
        await llm.chat("solver", MESSAGES)
    assert (await llm.chat("solver", MESSAGES)).cached is False
    await llm.aclose()


async def test_repeat_changes_seed_and_cache_entry(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda call: f"seed={call.decoding.seed}")
    llm = LLM(settings(cache=tmp_path / "c.sqlite"), backend=backend)
    r0 = await llm.chat("solver", MESSAGES, repeat=0)
    r1 = await llm.chat("solver", MESSAGES, repeat=1)
    r0_again = await llm.chat("solver", MESSAGES, repeat=0)
    assert (r0.text, r1.text) == ("seed=42", "seed=43")
    assert not r1.cached
    assert r0_again.cached and r0_again.text == "seed=42"
    assert [c.decoding.seed for c in backend.calls] == [42, 43]
    await llm.aclose()


async def test_concurrency_limit_per_endpoint() -> None:
    backend = InFlightBackend(latency_s=0.02)
    llm = LLM(settings(concurrency=3), backend=backend)
    started = time.perf_counter()
    await asyncio.gather(*(llm.chat(role, [{"role": "user", "content": f"q{i}"}])
                           for i in range(12) for role in ("solver", "extractor")))
    elapsed = time.perf_counter() - started
    assert backend.max_in_flight == 3  # both roles share the one endpoint, so one limit
    assert elapsed >= 8 * 0.02 * 0.9  # 24 calls, 3 at a time


async def test_concurrency_limit_is_reached_not_just_respected() -> None:
    backend = InFlightBackend(latency_s=0.02)
    llm = LLM(settings(concurrency=16), backend=backend)
    await asyncio.gather(*(llm.chat("solver", [{"role": "user", "content": f"q{i}"}]) for i in range(40)))
    assert backend.max_in_flight == 16


async def test_separate_endpoints_have_separate_limits() -> None:
    backend = InFlightBackend(latency_s=0.02)
    llm = LLM(settings("solver.model=s", "extractor.model=e", concurrency=2), backend=backend)
    await asyncio.gather(*(llm.chat(role, [{"role": "user", "content": f"q{i}"}])
                           for i in range(6) for role in ("solver", "extractor")))
    assert backend.max_in_flight == 4


async def test_context_cut_is_noted_and_overflow_raises() -> None:
    backend = ScriptedBackend(context_size=200)
    llm = LLM(settings("extractor.max_tokens=50"), backend=backend)
    long: list[Message] = [{"role": "system", "content": "extract"},
                           {"role": "user", "content": "HEAD " + "word " * 1000 + "TAIL"}]
    completion = await llm.chat("extractor", long, cuttable_index=1)
    assert any("cut in the middle" in note for note in completion.notes)
    sent = backend.calls[0].messages[1]["content"]
    assert sent.startswith("HEAD") and sent.endswith("TAIL") and len(sent) < 1000
    with pytest.raises(ContextOverflowError):
        await llm.chat("extractor", long)
    assert len(backend.calls) == 1


async def test_truncated_reply_is_noted() -> None:
    class Truncating(ScriptedBackend):
        async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                           json_schema: dict[str, Any] | None = None) -> Completion:
            completion = await super().complete(model, messages, decoding, json_schema)
            completion.finish_reason = "length"
            return completion

    llm = LLM(settings("solver.max_tokens=32"), backend=Truncating())
    completion = await llm.chat("solver", MESSAGES)
    assert completion.truncated
    assert "solver reply hit the 32-token limit" in completion.notes
