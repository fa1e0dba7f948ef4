"""How a bad endpoint fails: refused at once, silent with a notice then an error, garbage named."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, free_port, make_llm

from clue.llm.types import EndpointRefusedError, EndpointTimeoutError, LLMError, Message, TransientLLMError

MESSAGES: list[Message] = [{"role": "user", "content": "2+2?"}]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


async def test_refused_connection_fails_at_once_and_says_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = make_llm(url, retries=5)
    started = time.perf_counter()
    try:
        with pytest.raises(EndpointRefusedError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert time.perf_counter() - started < 2, "a refused connection is not retried with backoff"
    message = str(info.value)
    assert "connection refused" in message and url in message and "\n" not in message
    assert "gave up after 1 attempt" in message
    assert llm.ledger.by_role["solver"].failed_calls == 1


async def test_silent_endpoint_gives_a_notice_then_a_timeout_after_two_tries(fake: FakeOpenAI) -> None:
    fake.delay_s = 1.5
    llm = make_llm(fake.base_url, "solver.timeout_s=0.4", retries=5)
    notices: list[str] = []
    llm.on_notice = notices.append
    llm.notice_after_s = 0.1
    started = time.perf_counter()
    try:
        with pytest.raises(EndpointTimeoutError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    elapsed = time.perf_counter() - started
    assert len(fake.requests) == 2, "a timeout is tried twice, not `retries` times"
    assert elapsed < 3
    assert "no reply within 0.4 s" in str(info.value) and fake.base_url in str(info.value)
    assert len(notices) == 1 and "waiting for fake" in notices[0] and "no reply for 0.1 s" in notices[0]


async def test_no_notice_when_the_endpoint_answers_in_time(fake: FakeOpenAI) -> None:
    llm = make_llm(fake.base_url)
    notices: list[str] = []
    llm.on_notice = notices.append
    llm.notice_after_s = 0.5
    try:
        await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert notices == []


@pytest.mark.parametrize(("body", "shown"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "PNG"),
    ("<!DOCTYPE html><html><body>Login required</body></html>", "<!DOCTYPE html>"),
    ("not json at all {", "not json at all"),
])
async def test_a_200_that_is_not_a_completion_names_the_endpoint_and_first_bytes(
        fake: FakeOpenAI, body: bytes | str, shown: str) -> None:
    fake.script.append((200, body))
    llm = make_llm(fake.base_url, retries=3)
    try:
        with pytest.raises(LLMError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    message = str(info.value)
    assert not isinstance(info.value, TransientLLMError), "garbage is not retried as if transient"
    assert fake.base_url in message and "not a chat completion" in message and shown in message
    assert "\n" not in message
    assert len(fake.requests) == 1


async def test_endpoint_recovers_after_a_server_error(fake: FakeOpenAI) -> None:
    fake.script.append((503, {"error": {"message": "loading"}}))
    fake.script.append((200, chat_reply("4")))
    llm = make_llm(fake.base_url, retries=3)
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert completion.text == "4" and len(fake.requests) == 2
