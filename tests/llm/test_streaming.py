"""Streamed requests: a server that keeps sending is never timed out, a silent one is; usage and fallbacks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, make_llm

from clue.llm.types import EndpointTimeoutError, Message

MESSAGES: list[Message] = [{"role": "user", "content": "Tell me a long story."}]
STORY = " ".join(f"word{i}" for i in range(12))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=lambda body: (200, chat_reply(STORY, prompt_tokens=40, completion_tokens=12)))
    yield server
    server.close()


async def test_a_streamed_reply_is_assembled_with_the_servers_usage(fake: FakeOpenAI) -> None:
    llm = make_llm(fake.base_url)
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    body = fake.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert completion.text == STORY
    assert (completion.prompt_tokens, completion.completion_tokens) == (40, 12)
    assert completion.finish_reason == "stop" and completion.endpoint == fake.base_url


async def test_a_slow_server_that_keeps_sending_is_never_cut_off(fake: FakeOpenAI) -> None:
    fake.piece_delay_s = 0.15  # 14 pieces: about 2 s in all, four times the idle limit
    llm = make_llm(fake.base_url, "solver.idle_timeout_s=0.5")
    notices: list[str] = []
    llm.on_notice = notices.append
    llm.notice_after_s = 0.4
    started = time.perf_counter()
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert time.perf_counter() - started > 1.5, "the reply really took longer than the idle limit"
    assert completion.text == STORY and completion.completion_tokens == 12
    assert len(fake.requests) == 1, "not retried: it never went silent"
    assert notices == [], "a server that sends is not reported as waiting"


async def test_a_silent_server_is_timed_out_by_the_idle_limit_with_one_notice(fake: FakeOpenAI) -> None:
    fake.delay_s = 3.0
    llm = make_llm(fake.base_url, "solver.idle_timeout_s=0.4", retries=5)
    notices: list[str] = []
    llm.on_notice = notices.append
    llm.notice_after_s = 0.2
    started = time.perf_counter()
    try:
        with pytest.raises(EndpointTimeoutError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert time.perf_counter() - started < 2.5
    assert len(fake.requests) == 2, "a silent endpoint is tried twice"
    assert "no reply within 0.4 s" in str(info.value) and "idle_timeout_s" in str(info.value)
    assert len(notices) == 1 and "no reply for 0.2 s" in notices[0] and fake.base_url in notices[0]
    assert "idle_timeout_s=0.4 s" in notices[0]


async def test_a_server_refusing_stream_options_is_asked_again_without_them(fake: FakeOpenAI) -> None:
    fake.refuse_stream_options = True
    llm = make_llm(fake.base_url)
    try:
        first = await llm.chat("solver", MESSAGES)
        await llm.chat("solver", MESSAGES, repeat=1)
    finally:
        await llm.aclose()
    assert first.text == STORY
    assert first.completion_tokens == 12, "without a usage chunk, the pieces received are counted"
    assert ["stream_options" in body for body in fake.requests] == [True, False, False]


async def test_a_server_answering_a_stream_with_one_json_body_is_read_as_such(fake: FakeOpenAI) -> None:
    fake.streams = False
    llm = make_llm(fake.base_url)
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert fake.requests[0]["stream"] is True
    assert completion.text == STORY and completion.prompt_tokens == 40


async def test_a_server_that_cuts_streams_short_is_asked_for_whole_replies(fake: FakeOpenAI) -> None:
    fake.cut_streams = True  # as llama-cpp-python's server does when another request arrives
    llm = make_llm(fake.base_url)
    try:
        first = await llm.chat("solver", MESSAGES)
        second = await llm.chat("solver", MESSAGES, repeat=1)
    finally:
        await llm.aclose()
    assert first.text == second.text == STORY, "the cut reply is not taken for the whole one"
    assert [bool(body.get("stream")) for body in fake.requests] == [True, False, False]


async def test_streaming_can_be_turned_off(fake: FakeOpenAI) -> None:
    llm = make_llm(fake.base_url, "solver.stream=false")
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert "stream" not in fake.requests[0]
    assert completion.text == STORY
