"""The openai backend against a fake OpenAI-compatible server on loopback, and the runner's abort/resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, free_port, make_llm

from clue.bench.data.records import Pair, Turn
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import RunAborted, Runner
from clue.bench.scorers.score import Score
from clue.llm.backends.openai_backend import OpenAIBackend
from clue.llm.client import LLM
from clue.llm.types import Decoding, LLMError, Message, TransientLLMError
from clue.memory.prompts import ExtractionPrompt


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


MESSAGES: list[Message] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
DECODING = Decoding(temperature=0.5, top_p=0.9, max_tokens=32, seed=7)


async def test_normal_call(fake: FakeOpenAI) -> None:
    fake.script.append((200, chat_reply("<think>let me see</think>4", prompt_tokens=20, completion_tokens=5)))
    backend = OpenAIBackend(fake.base_url)
    try:
        completion = await backend.complete("fake", MESSAGES, DECODING)
    finally:
        await backend.aclose()
    assert completion.text == "<think>let me see</think>4"  # the backend does not strip; the client does
    assert (completion.prompt_tokens, completion.completion_tokens) == (20, 5)
    assert completion.finish_reason == "stop" and completion.latency_s > 0
    body = fake.requests[0]
    assert fake.paths == ["/v1/chat/completions"]
    assert body["model"] == "fake" and body["messages"] == MESSAGES
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.5, 0.9, 32, 7)
    assert "response_format" not in body


async def test_llm_over_openai_backend_strips_and_records(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script.append((200, chat_reply("<think>x</think>4", finish_reason="length")))
    llm = make_llm(fake.base_url, tmp_cache=tmp_path / "c.sqlite")
    try:
        first = await llm.chat("solver", MESSAGES)
        second = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert first.text == second.text == "4"
    assert first.truncated and any("token limit" in n for n in first.notes)
    assert second.cached and len(fake.requests) == 1
    usage = llm.ledger.by_role["solver"]
    assert (usage.calls, usage.cached_calls, usage.prompt_tokens, usage.completion_tokens) == (2, 1, 11, 3)


async def test_json_mode_for_non_openai_base_url(fake: FakeOpenAI) -> None:
    fake.script.append((200, chat_reply('{"a": 1}')))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    backend = OpenAIBackend(fake.base_url)
    try:
        await backend.complete("fake", MESSAGES, DECODING, json_schema=schema)
    finally:
        await backend.aclose()
    assert fake.requests[0]["response_format"] == {"type": "json_object", "schema": schema}


@pytest.mark.parametrize(("json_mode", "expected"), [
    ("json_schema", {"type": "json_schema", "json_schema": {"name": "reply", "schema": {"type": "object"}}}),
    ("json_object", {"type": "json_object"}),
    ("none", None),
])
async def test_json_mode_settings(fake: FakeOpenAI, json_mode: str, expected: dict[str, Any] | None) -> None:
    backend = OpenAIBackend(fake.base_url, json_mode=json_mode)
    try:
        await backend.complete("fake", MESSAGES, DECODING, json_schema={"type": "object"})
    finally:
        await backend.aclose()
    assert fake.requests[0].get("response_format") == expected


async def test_reply_that_is_not_a_completion(fake: FakeOpenAI) -> None:
    fake.script.append((200, "<html>\n<body>Welcome to nginx!</body></html>"))
    fake.script.append((200, {"error": {"message": "model not loaded"}}))
    fake.script.append((200, {"error": {"message": "overloaded", "code": 503}}))
    fake.script.append((200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}))
    backend = OpenAIBackend(fake.base_url)
    try:
        with pytest.raises(LLMError, match=r"reply is not a chat completion \(\d+ bytes, not JSON\): '<html>") as info:
            await backend.complete("fake", MESSAGES, DECODING)
        assert not isinstance(info.value, TransientLLMError)
        with pytest.raises(LLMError, match=r"not a chat completion \(no choices\): .*model not loaded") as info:
            await backend.complete("fake", MESSAGES, DECODING)
        assert not isinstance(info.value, TransientLLMError), "the same request gets the same reply"
        with pytest.raises(TransientLLMError, match=r"server error in a 200 reply: .*overloaded"):
            await backend.complete("fake", MESSAGES, DECODING)
        empty = await backend.complete("fake", MESSAGES, DECODING)  # no usage, no finish_reason, null content
    finally:
        await backend.aclose()
    assert (empty.text, empty.prompt_tokens, empty.completion_tokens) == ("", 0, 0)
    assert empty.finish_reason == "stop"


async def test_server_error_then_success_is_retried(fake: FakeOpenAI) -> None:
    fake.script.append((500, {"error": {"message": "overloaded", "type": "server_error"}}))
    fake.script.append((200, chat_reply("fine")))
    llm = make_llm(fake.base_url, retries=3)
    try:
        completion = await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert completion.text == "fine"
    assert len(fake.requests) == 2


async def test_rate_limit_is_transient(fake: FakeOpenAI) -> None:
    fake.script.append((429, {"error": {"message": "slow down", "type": "rate_limit"}}))
    backend = OpenAIBackend(fake.base_url)
    try:
        with pytest.raises(TransientLLMError, match=r"rate limited \(429\)"):
            await backend.complete("fake", MESSAGES, DECODING)
    finally:
        await backend.aclose()


async def test_bad_request_is_one_line_llm_error(fake: FakeOpenAI) -> None:
    fake.responder = lambda body: (400, {"error": {"message": "max_tokens is too large:\nsee docs",
                                                   "type": "invalid_request_error"}})
    llm = make_llm(fake.base_url, retries=3)
    try:
        with pytest.raises(LLMError) as info:
            await llm.chat("solver", MESSAGES)
    finally:
        await llm.aclose()
    assert not isinstance(info.value, TransientLLMError)
    message = str(info.value)
    assert "\n" not in message
    assert "request rejected (400)" in message and fake.base_url in message
    assert len(fake.requests) == 1, "a 400 is not retried"
    assert llm.ledger.by_role["solver"].failed_calls == 1


# --- the runner: abort on a down endpoint, then resume ---------------------------------------------------

class EchoTask:
    """Scores 1 when the solver's reply mentions the target's token; a pure function of the reply."""

    def query_messages(self, pair: Pair) -> list[Message]:
        return [{"role": "user", "content": f"Say {pair.target['token']}"}]

    async def score(self, pair: Pair, solver_text: str, judge: Any) -> Score:
        return Score(1.0 if str(pair.target["token"]) in solver_text else 0.0, "token check")


def make_pairs(n: int) -> list[Pair]:
    return [Pair(dataset="Echo", subset="Echo", source_id=i, target_id=i,
                 source_messages=[Turn(role="user", content=f"I like {i}"),
                                  Turn(role="assistant", content="ok")],
                 target={"id": i, "token": f"tok{i}"}) for i in range(n)]


def make_runner(llm: LLM) -> Runner:
    return Runner(llm, tasks=lambda dataset: EchoTask(),  # type: ignore[arg-type,return-value]
                  info=lambda dataset: ("problem-solving", False), concurrency=4)


async def test_runner_aborts_on_down_endpoint_and_resume_completes(tmp_path: Path) -> None:
    prompt = ExtractionPrompt("simple", "Write down what you learn about the user.")
    pairs = make_pairs(6)
    path = tmp_path / "rollouts.jsonl"
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"

    # 1. The endpoint is up for the first half of the pairs.
    server = FakeOpenAI(port)
    try:
        llm = make_llm(url)
        store = RolloutStore(path)
        done = await make_runner(llm).evaluate(prompt, pairs[:3], store=store)
        store.close()
        await llm.aclose()
    finally:
        server.close()
    assert [r.reward for r in done] == [1.0, 1.0, 1.0]

    # 2. The endpoint goes down: the run aborts, naming the URL; finished rollouts stay on disk.
    llm = make_llm(url, retries=2)
    store = RolloutStore(path)
    with pytest.raises(RunAborted) as info:
        await make_runner(llm).evaluate(prompt, pairs, store=store)
    store.close()
    await llm.aclose()
    assert url in str(info.value) and "\n" not in str(info.value)
    assert len(path.read_text().splitlines()) == 3

    # 3. It is back: a resumed run makes only the missing rollouts and returns all of them in order.
    server = FakeOpenAI(port)
    try:
        llm = make_llm(url)
        store = RolloutStore(path)
        seen: list[bool] = []
        runner = make_runner(llm)
        runner.on_rollout = lambda rollout, reused: seen.append(reused)
        rollouts = await runner.evaluate(prompt, pairs, store=store)
        store.close()
        await llm.aclose()
    finally:
        server.close()
    assert [r.target_id for r in rollouts] == list(range(6))
    assert all(r.reward == 1.0 and r.error is None for r in rollouts)
    assert sorted(seen) == [False] * 3 + [True] * 3
    assert len(server.requests) == 3 * 2  # extract + solve for each missing rollout only
    assert len(path.read_text().splitlines()) == 6
