"""`clue extract` on conversations far over the context window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_openai import FakeOpenAI
from typer.testing import CliRunner

from clue.cli import app


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def test_extract_sends_about_a_window_of_any_huge_conversation(tmp_path: Path, fake: FakeOpenAI) -> None:
    """`clue extract` on 212 KB, 531 KB and 1 MB conversations: each request carries about the same, maximal,
    amount of the source (the default remote window), never only the cut marker."""
    sent: list[int] = []
    for size in (212_000, 531_000, 1_000_000):
        line = "user: I moved to Lisbon in May and I still prefer green tea to coffee. "
        chat = tmp_path / f"chat{size}.json"
        chat.write_text(json.dumps([{"role": "user", "content": (line * (size // len(line) + 1))[:size]}]))
        result = CliRunner().invoke(app, ["--backend", "openai", "--base-url", fake.base_url, "--model", "fake",
                                          "--no-cache", "extract", "--conversation", str(chat)])
        assert result.exit_code == 0, result.output
        sent.append(sum(len(message["content"]) for message in fake.requests[-1]["messages"]))
    assert min(sent) > 60_000, sent  # 32768 tokens at ~3 characters a token, less the reply's share
    assert max(sent) - min(sent) <= 0.05 * max(sent), sent
