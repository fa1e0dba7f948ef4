"""`clue evolve` against an endpoint whose optimizer model answers nonsense JSON (real BEHEMOTH train pairs, the
fake OpenAI server): the method says so in one line and the command exits 4; the run log holds the counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, Reply, chat_reply, echo
from typer.testing import CliRunner

from clue.cli import app

NONSENSE = '{"answer": 42, "note": "nothing you asked for"}'


def nonsense_optimizer(body: dict[str, Any]) -> Reply:
    if body["model"] == "opt":
        return 200, chat_reply(NONSENSE, model="opt")
    return echo(body)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=nonsense_optimizer)
    yield server
    server.close()


@pytest.mark.parametrize(("method", "knobs"), [
    ("clue", ["--rounds", "1", "--batch", "2", "--candidates", "1", "--top", "1", "--resample", "1",
              "--max-clusters", "1", "--analysis-mode", "context"]),
    ("gepa", ["--budget-rollouts", "40"]),
    ("ace", ["--budget-rollouts", "10"]),
])
def test_nonsense_optimizer_replies_exit_4_in_one_line(tmp_path: Path, data_root: Path, fake: FakeOpenAI,
                                                       method: str, knobs: list[str]) -> None:
    out = tmp_path / method
    result = CliRunner().invoke(app, [
        "--backend", "openai", "--base-url", fake.base_url, "--model", "fake", "--role", "optimizer.model=opt",
        "--no-cache", "--data-root", str(data_root), "evolve", "--method", method, "--datasets", "membench-high",
        "--test-limit", "1", "--out", str(out), *knobs])
    assert result.exit_code == 4, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert errors[0].startswith(f"error: {method}: every one of the ") and "the seed prompt was kept" in errors[0]
    log = json.loads((out / "log.json").read_text())
    assert log["status"] == "failed" and log["error"] in errors[0]
    assert log["evolution"]["unusable_replies"] and all(n > 0 for n in log["evolution"]["unusable_replies"].values())
    opt_requests = [r for r in fake.requests if r["model"] == "opt"]
    reasks = [r for r in opt_requests if "That reply" in str(r["messages"][-1]["content"])]
    assert opt_requests and len(reasks) * 2 == len(opt_requests)  # every reply asked again once, then counted
    shown = CliRunner().invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "optimizer replies unusable after every re-ask:" in shown.output, shown.output
    step = next(iter(log["evolution"]["unusable_replies"]))
    assert f"{step} {log['evolution']['unusable_replies'][step]}" in shown.output
    page = tmp_path / f"{method}.html"
    reported = CliRunner().invoke(app, ["report", str(out), "--out", str(page)])
    assert reported.exit_code == 0, reported.output
    assert "Optimizer replies unusable after every re-ask:" in page.read_text()
