"""SQLite response cache: keys depend on everything that determines a reply, and entries persist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clue.llm.cache import ResponseCache, cache_key
from clue.llm.types import Completion, Decoding, Message

MESSAGES: list[Message] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
DECODING = Decoding(temperature=0.7, top_p=0.9, max_tokens=64, seed=42)
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


def base_key() -> str:
    return cache_key("openai:http://x/v1", "m", MESSAGES, DECODING, None)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    c = ResponseCache(tmp_path / "sub" / "cache.sqlite")
    yield c
    c.close()


def test_miss_then_hit(cache: ResponseCache) -> None:
    key = base_key()
    assert cache.get(key) is None
    cache.put(key, Completion("hello", prompt_tokens=10, completion_tokens=2, latency_s=1.5,
                              finish_reason="length", notes=["not stored"]))
    hit = cache.get(key)
    assert hit is not None
    assert (hit.text, hit.prompt_tokens, hit.completion_tokens) == ("hello", 10, 2)
    assert hit.finish_reason == "length"
    assert hit.cached is True
    assert hit.latency_s == 0.0
    assert hit.notes == []
    assert len(cache) == 1


def test_put_replaces(cache: ResponseCache) -> None:
    key = base_key()
    cache.put(key, Completion("one", 1, 1, 0.1))
    cache.put(key, Completion("two", 1, 1, 0.1))
    assert len(cache) == 1
    hit = cache.get(key)
    assert hit is not None and hit.text == "two"


def test_key_is_stable() -> None:
    assert base_key() == base_key()
    copied: list[Message] = [{"content": m["content"], "role": m["role"]} for m in MESSAGES]  # key order
    assert cache_key("openai:http://x/v1", "m", copied, DECODING, None) == base_key()


@pytest.mark.parametrize("variant", [
    {"endpoint": "openai:http://y/v1"},
    {"model": "m2"},
    {"messages": [MESSAGES[0], {"role": "user", "content": "hi!"}]},
    {"messages": [MESSAGES[0], {"role": "assistant", "content": "hi"}]},
    {"messages": MESSAGES[1:]},
    {"decoding": Decoding(temperature=0.8, top_p=0.9, max_tokens=64, seed=42)},
    {"decoding": Decoding(temperature=0.7, top_p=0.95, max_tokens=64, seed=42)},
    {"decoding": Decoding(temperature=0.7, top_p=0.9, max_tokens=65, seed=42)},
    {"decoding": Decoding(temperature=0.7, top_p=0.9, max_tokens=64, seed=43)},
    {"decoding": Decoding(temperature=0.7, top_p=0.9, max_tokens=64, seed=None)},
    {"schema": SCHEMA},
])
def test_key_changes_with_every_input(variant: dict[str, object]) -> None:
    args: dict[str, object] = {"endpoint": "openai:http://x/v1", "model": "m", "messages": MESSAGES,
                               "decoding": DECODING, "schema": None}
    args.update(variant)
    key = cache_key(args["endpoint"], args["model"], args["messages"], args["decoding"],  # type: ignore[arg-type]
                    args["schema"])  # type: ignore[arg-type]
    assert key != base_key()


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    first = ResponseCache(path)
    first.put(base_key(), Completion("kept", 3, 4, 0.2))
    first.close()
    second = ResponseCache(path)
    try:
        hit = second.get(base_key())
        assert hit is not None and hit.text == "kept" and hit.cached
        assert second.get("other") is None
    finally:
        second.close()


def test_two_open_instances_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    a, b = ResponseCache(path), ResponseCache(path)
    try:
        a.put("k", Completion("from a", 1, 1, 0.0))
        hit = b.get("k")
        assert hit is not None and hit.text == "from a"
    finally:
        a.close()
        b.close()


def test_unicode_round_trip(cache: ResponseCache) -> None:
    cache.put("u", Completion("naïve — 日本語 \u0000 end", 1, 1, 0.0))
    hit = cache.get("u")
    assert hit is not None and hit.text == "naïve — 日本語 \u0000 end"
