"""When most rollouts fail for one reason, the last line names it and the exit code says its kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, Reply, no_choices, not_json, rejecting
from typer.testing import CliRunner

from clue.bench.run.failure_cause import common_cause, failure_kind
from clue.cli import app

EVAL = ["eval", "--prompt", "simple", "--datasets", "membench-high", "--split", "train", "--limit", "3",
        "--repeats", "1"]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


@pytest.mark.parametrize(("responder", "expected"), [
    (rejecting(404, "The model `fake` does not exist"), ["(404)", "The model `fake` does not exist"]),
    (rejecting(401, "Incorrect API key provided"), ["(401)", "Incorrect API key"]),
    (rejecting(400, "max_tokens is too large"), ["(400)", "max_tokens is too large"]),
    (not_json, ["not JSON", "<html><body>Welcome to nginx"]),
    (no_choices, ["no choices", '{"object": "list"']),
], ids=["404", "401", "400", "html", "no-choices"])
def test_a_rejecting_endpoint_is_named_and_exits_4(tmp_path: Path, fake: FakeOpenAI,
                                                    responder: Callable[[dict[str, Any]], Reply],
                                                    expected: list[str]) -> None:
    fake.responder = responder
    result = CliRunner().invoke(app, ["--backend", "openai", "--base-url", fake.base_url, "--model", "fake",
                                      "--no-cache", *EVAL, "--out", str(tmp_path / "run")])
    assert result.exit_code == 4, result.output
    line = error_line(result.output)
    assert "3/3 rollouts failed" in line and "3 of them" in line and fake.base_url in line, line
    for piece in expected:
        assert piece in line, line
    assert len(fake.requests) == 3, "a reply that is not a completion is not retried"


def test_the_cause_is_named_only_when_most_failures_share_it() -> None:
    rejected = "m at http://h/v1: request rejected (404): no such model"
    assert common_cause([rejected] * 3 + ["environment crashed: X"]) is not None
    assert common_cause([rejected, "environment crashed: X"]) is None
    assert common_cause([]) is None
    assert failure_kind(rejected) == "rejected"
    assert failure_kind("m at h: rate limited (429) (gave up after 5 attempts)") == "transient"
    assert failure_kind("m at h: server error 502: bad gateway") == "transient"
    assert failure_kind("environment crashed: ValueError: x") == "other"
    cause = common_cause(["environment crashed: ValueError: x"] * 2)
    assert cause is not None and cause.error("2/2 failed", "retry").exit_code == 6

