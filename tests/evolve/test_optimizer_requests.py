"""Optimizer calls against an openai endpoint, as the reference makes them: free text with thinking on, the
JSON parsed out of the reply (no constrained decoding asked of the server), synthesis with up to 20,000
tokens. Constrained JSON stays one setting away, and stays the embedded model's default."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from clue.bench.run.record import build_spec
from clue.config import load_settings
from clue.evolve.state import AnalysisRecord
from clue.evolve.summarize import ScenarioSummary
from clue.evolve.synthesize import REFERENCE_SYNTHESIS_MAX_TOKENS, synthesis_max_tokens, synthesize
from clue.memory.prompts import load_prompt
from tests.support.fake_openai import FakeOpenAI, Reply, chat_reply, make_llm


class Verdict(BaseModel):
    summary: str


def thinking_then_json(body: dict[str, Any]) -> Reply:
    if "system_prompt" in json.dumps(body["messages"]):  # a synthesis request (its format names the field)
        payload = {"candidate_id": "cand_01", "system_prompt": "You extract memories.", "rationale": "why"}
    else:
        payload = {"summary": "keeps exact dates"}
    text = f"<think>Let me weigh the cases first.</think>Here is my answer:\n```json\n{json.dumps(payload)}\n```"
    return 200, chat_reply(text)


async def test_optimizer_calls_are_free_text_with_thinking_on_and_json_parsed_from_the_reply() -> None:
    server = FakeOpenAI(responder=thinking_then_json)
    llm = make_llm(server.base_url)
    try:
        result = await llm.structured("optimizer", [{"role": "user", "content": "Summarize. Reply with JSON."}],
                                      Verdict)
    finally:
        await llm.aclose()
        server.close()
    assert result.value == Verdict(summary="keeps exact dates") and result.attempts == 1
    sent = server.requests[0]
    assert "response_format" not in sent
    assert sent["chat_template_kwargs"] == {"enable_thinking": True} and sent["temperature"] == 0.6


async def test_constrained_json_is_one_setting_away_and_the_embedded_default() -> None:
    server = FakeOpenAI(responder=thinking_then_json)
    llm = make_llm(server.base_url, "optimizer.json_mode=auto")
    try:
        result = await llm.structured("optimizer", [{"role": "user", "content": "Summarize."}], ScenarioSummary)
    finally:
        await llm.aclose()
        server.close()
    assert result.value is not None
    assert server.requests[0]["response_format"]["type"] == "json_object"
    assert load_settings(env={}).role("optimizer").json_mode == "auto"  # embedded model: grammar-constrained
    openai = load_settings(env={}, cli={"backend": "openai", "base_url": "http://h/v1", "model": "m"})
    assert openai.role("optimizer").json_mode == "none"
    specs = build_spec("eval", openai, load_prompt("simple"), description={}).roles  # what the run log records
    assert specs["optimizer"].json_mode == "none" and specs["extractor"].cut_thinking == "raw"


async def test_synthesis_asks_for_up_to_20000_tokens_on_an_openai_endpoint() -> None:
    server = FakeOpenAI(responder=thinking_then_json)
    llm = make_llm(server.base_url)
    analysis = AnalysisRecord(key="c1", label="dates", size=3, successes=1, failure_analysis="dates were lost",
                              recommendations=["keep exact dates"])
    try:
        drafted = await synthesize(llm, load_prompt("simple"), [analysis], index=0)
        assert synthesis_max_tokens(llm, 3000) == 3000
    finally:
        await llm.aclose()
        server.close()
    assert drafted.error is None and drafted.text == "You extract memories.\n"
    assert server.requests[0]["max_tokens"] == REFERENCE_SYNTHESIS_MAX_TOKENS == 20000
    assert "response_format" not in server.requests[0]
    local = load_settings(env={})
    from clue.llm.client import LLM

    assert synthesis_max_tokens(LLM(local, cache=None), None) is None  # the embedded model keeps its own limit
