"""Structured replies: parse, repair common breakage, validate; LLM.structured retries once, never raises."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from clue.config import Settings, load_settings
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.llm.structured import json_schema_for, parse_structured
from clue.llm.types import Message


class Item(BaseModel):
    title: str
    score: int


class Memory(BaseModel):
    notes: list[str] = Field(max_length=3)
    items: list[Item] = []
    ok: bool = True


def settings() -> Settings:
    return load_settings(env={}, cli={"backend": "scripted", "model": "m"}, no_cache=True)


MESSAGES: list[Message] = [{"role": "user", "content": "give me JSON"}]


@pytest.mark.parametrize("text", [
    '{"notes": ["a", "b"], "items": [{"title": "t", "score": 2}], "ok": false}',
    'Sure! Here it is:\n```json\n{"notes": ["a", "b"], "items": [{"title": "t", "score": 2}], "ok": false}'
    '\n```',
    '```\n{"notes": ["a", "b"], "items": [{"title": "t", "score": 2}], "ok": false}\n```\nDone.',
    '{"notes": ["a", "b",], "items": [{"title": "t", "score": 2,},], "ok": false,}',
    "{'notes': ['a', 'b'], 'items': [{'title': 't', 'score': 2}], 'ok': False}",
    'The answer is {"notes": ["a", "b"], "items": [{"title": "t", "score": 2}], "ok": false} as asked.',
    '{\n  "notes": ["a", "b"],\n  "items": [{"title": "t", "score": 2}],\n  "ok": false\n}\n',
])
def test_parses_and_repairs(text: str) -> None:
    value = parse_structured(text, Memory)
    assert value == Memory(notes=["a", "b"], items=[Item(title="t", score=2)], ok=False)


@pytest.mark.parametrize(("text", "reason"), [
    ('{"notes": "not a list"}', "schema mismatch at notes"),
    ('{"notes": ["a", "b", "c", "d"]}', "schema mismatch at notes"),
    ('{"items": [{"title": "t", "score": "high"}], "notes": []}', "schema mismatch at items.0.score"),
    ('{"items": []}', "schema mismatch at notes"),
    ("I cannot help with that.", "not JSON"),
    ("", "not JSON"),
    ("{{{{", "not JSON"),
    ("[1, 2, 3]", "schema mismatch at root"),
])
def test_refuses_with_one_line_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_structured(text, Memory)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message


def test_python_literal_eval_is_not_code_execution() -> None:
    with pytest.raises(ValueError):
        parse_structured("{'notes': [__import__('os').getcwd()]}", Memory)


def test_schema_is_flat_and_bounded() -> None:
    schema = json_schema_for(Memory)
    assert "$defs" not in schema
    assert "$ref" not in str(schema)
    assert schema["properties"]["notes"]["maxItems"] == 3
    assert schema["properties"]["notes"]["type"] == "array"
    item = schema["properties"]["items"]["items"]
    assert item["type"] == "object"
    assert set(item["properties"]) == {"title", "score"}, "a field named 'title' is a property, not a label"
    assert "title" not in schema and "title" not in item  # schema titles are dropped
    assert schema["required"] == ["notes"]


async def test_structured_first_try() -> None:
    backend = ScriptedBackend(['{"notes": ["x"]}'])
    llm = LLM(settings(), backend=backend)
    result = await llm.structured("extractor", MESSAGES, Memory)
    assert result.value == Memory(notes=["x"])
    assert result.error is None and result.attempts == 1
    assert backend.calls[0].json_schema == json_schema_for(Memory)
    assert backend.calls[0].json_schema is not None
    assert backend.calls[0].json_schema["properties"]["notes"]["maxItems"] == 3


async def test_structured_repairs_without_retry() -> None:
    backend = ScriptedBackend(["<think>hmm</think>```json\n{'notes': ['x',],}\n```"])
    llm = LLM(settings(), backend=backend)
    result = await llm.structured("extractor", MESSAGES, Memory)
    assert result.value == Memory(notes=["x"])
    assert len(backend.calls) == 1


async def test_structured_retries_once_with_the_error() -> None:
    backend = ScriptedBackend(['{"notes": ["a", "b", "c", "d", "e"]}', '{"notes": ["a"]}'])
    llm = LLM(settings(), backend=backend)
    result = await llm.structured("extractor", MESSAGES, Memory)
    assert result.value == Memory(notes=["a"])
    assert result.attempts == 2
    retry = backend.calls[1].messages
    assert retry[0] == MESSAGES[0]
    assert retry[1] == {"role": "assistant", "content": '{"notes": ["a", "b", "c", "d", "e"]}'}
    assert retry[2]["role"] == "user"
    assert "schema mismatch at notes" in retry[2]["content"]
    assert llm.ledger.by_role["extractor"].calls == 2


async def test_structured_failure_is_recorded_not_raised() -> None:
    backend = ScriptedBackend(["no idea", "still no idea"])
    llm = LLM(settings(), backend=backend)
    result = await llm.structured("judge", MESSAGES, Memory)
    assert result.value is None
    assert result.attempts == 2
    assert result.completion is not None and result.completion.text == "still no idea"
    assert result.error is not None
    assert result.error.startswith("judge reply is not valid JSON: not JSON")
    assert "\n" not in result.error
    assert len(backend.calls) == 2
