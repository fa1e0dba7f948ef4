"""Per-role thinking: defaults by backend, the chat-template switch on the wire, and replies cut off inside
<think> recorded as truncated rather than passed off as an empty answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.config import OPENAI_ROLE_DEFAULTS, ROLE_DEFAULTS, ConfigError, load_settings, parse_role_overrides
from clue.llm.backends.openai_backend import OpenAIBackend
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.cache import cache_key
from clue.llm.client import LLM
from clue.llm.types import Decoding, Message

from .test_openai_backend import MESSAGES, FakeOpenAI, chat_reply, make_llm


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    server = FakeOpenAI()
    yield server
    server.close()


def test_openai_defaults_follow_the_reference_and_local_ones_stay_small() -> None:
    remote = load_settings(env={}, cli={"backend": "openai", "base_url": "http://h/v1", "model": "Qwen/Qwen3-32B"})
    extractor, solver, optimizer = (remote.role(r) for r in ("extractor", "solver", "optimizer"))
    assert (extractor.temperature, extractor.top_p, extractor.max_tokens, extractor.thinking) == (0.6, 0.95, 2048,
                                                                                                  True)
    assert (solver.temperature, solver.top_p, solver.thinking) == (0.7, 0.8, False)
    assert optimizer.thinking is True and optimizer.max_tokens >= 8192
    assert remote.role("judge").thinking is None
    local = load_settings(env={})
    assert local.role("extractor").max_tokens == ROLE_DEFAULTS["extractor"]["max_tokens"] < 2048
    assert all(local.role(r).thinking is None for r in ("extractor", "solver", "judge", "optimizer"))
    assert OPENAI_ROLE_DEFAULTS["solver"]["max_tokens"] == 512


def test_a_set_value_beats_the_backend_default_and_thinking_can_be_unset(tmp_path: Path) -> None:
    toml = tmp_path / "clue.toml"
    toml.write_text('[llm]\nbackend = "openai"\n[llm.extractor]\nmax_tokens = 900\n')
    settings = load_settings(toml, env={}, role_overrides=parse_role_overrides(["extractor.thinking=none",
                                                                                 "solver.thinking=true"]))
    assert settings.role("extractor").max_tokens == 900 and settings.role("extractor").thinking is None
    assert settings.role("solver").thinking is True and settings.role("optimizer").thinking is True
    with pytest.raises(ConfigError, match=r"solver\.thinking"):
        parse_role_overrides(["solver.thinking=maybe"])


async def test_enable_thinking_is_sent_as_chat_template_argument(fake: FakeOpenAI) -> None:
    fake.script += [(200, chat_reply("<think>hm</think>1. likes tea")), (200, chat_reply("B"))]
    llm = make_llm(fake.base_url)
    try:
        await llm.chat("extractor", MESSAGES)
        await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert fake.requests[0]["chat_template_kwargs"] == {"enable_thinking": True}
    assert fake.requests[0]["max_tokens"] == 2048
    assert fake.requests[1]["chat_template_kwargs"] == {"enable_thinking": False}


async def test_openai_own_api_gets_no_chat_template_argument(fake: FakeOpenAI) -> None:
    backend = OpenAIBackend("https://api.openai.com/v1")
    body_seen: list[dict[str, object]] = []

    async def post(path: str, *, body: dict[str, object], cast_to: object) -> object:
        body_seen.append(body)
        return json.dumps(chat_reply("ok")).encode()

    backend._client.post = post  # type: ignore[method-assign,assignment]
    try:
        await backend.complete("gpt-4o", MESSAGES, Decoding(thinking=True))
    finally:
        await backend.aclose()
    assert "chat_template_kwargs" not in body_seen[0]


async def test_reply_cut_inside_think_is_recorded_as_truncated(fake: FakeOpenAI) -> None:
    fake.script.append((200, chat_reply("<think>first I will consider the user's", finish_reason="length")))
    # A server with a reasoning parser returns the thinking apart and no content at all.
    reasoning_only = chat_reply("", finish_reason="length")
    reasoning_only["choices"][0]["message"]["reasoning_content"] = "still thinking"
    fake.script.append((200, reasoning_only))
    fake.script.append((200, chat_reply("<think>done</think>1. fact", finish_reason="length")))
    llm = make_llm(fake.base_url)
    try:
        inline = await llm.chat("extractor", MESSAGES)
        parsed = await llm.chat("extractor", MESSAGES, repeat=1)
        answered = await llm.chat("extractor", MESSAGES, repeat=2)
    finally:
        await llm.aclose()
    for cut in (inline, parsed):
        assert cut.text == "" and cut.truncated and cut.cut_in_thinking
        assert any("cut off inside <think>" in note and "extractor.max_tokens" in note for note in cut.notes)
    assert inline.raw_text == "<think>first I will consider the user's"
    assert answered.text == "1. fact" and answered.truncated and not answered.cut_in_thinking


def test_cache_key_includes_thinking_and_leaves_old_keys_alone() -> None:
    messages: list[Message] = [{"role": "user", "content": "q"}]
    plain = cache_key("openai:u", "m", messages, Decoding(), None)
    assert cache_key("openai:u", "m", messages, Decoding(thinking=None), None) == plain
    assert cache_key("openai:u", "m", messages, Decoding(thinking=True), None) != plain
    assert cache_key("openai:u", "m", messages, Decoding(thinking=False), None) != \
        cache_key("openai:u", "m", messages, Decoding(thinking=True), None)
    assert cache_key("openai:u", "other", messages, Decoding(), None) != plain


async def test_scripted_backend_sees_the_roles_thinking_in_its_decoding() -> None:
    backend = ScriptedBackend(["a"])
    settings = load_settings(env={}, role_overrides=parse_role_overrides(["solver.thinking=false"]))
    llm = LLM(settings, backend=backend, cache=None)
    await llm.chat("solver", MESSAGES)
    assert backend.calls[0].decoding.thinking is False
