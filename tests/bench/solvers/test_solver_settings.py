"""Each dataset's solver settings reach the request an OpenAI-compatible endpoint receives (fake server on
loopback, real BEHEMOTH pairs): max tokens per dataset, stop at a newline for the one-line agents, the
number of examples in an agent's prompt, the LongMemEval judge's single user message and 10 tokens, and a
user's override."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, make_llm

from clue.bench.data.loader import load_pairs
from clue.bench.data.root import default_data_root
from clue.bench.envs.root import default_env_root
from clue.bench.run.runner import Runner
from clue.bench.solvers.episode import EpisodeSolver
from clue.bench.solvers.registry import SolverOptions, SolverRegistry
from clue.memory.prompts import load_prompt

DATA_ROOT = default_data_root()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=lambda body: (200, chat_reply(_reply(body), model=body["model"])))
    yield server
    server.close()


def _reply(body: dict[str, Any]) -> str:
    """A memory for extraction calls (their user turn holds the tagged conversation), else "B"."""
    return "1. The user likes concise answers." if is_extraction(body) else "B"


def is_extraction(body: dict[str, Any]) -> bool:
    return "<conversation" in body["messages"][-1]["content"]


def solver_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The requests after each extraction call: the solver's (and the judge's)."""
    return [body for body in fake.requests if not is_extraction(body)]


async def run(fake: FakeOpenAI, dataset: str, split: str, options: SolverOptions | None = None,
              limit: int = 1) -> None:
    pairs = load_pairs(DATA_ROOT, dataset, split, limit=limit, warn=lambda message: None)  # type: ignore[arg-type]
    assert pairs
    llm = make_llm(fake.base_url)
    runner = Runner(llm, solvers=SolverRegistry(options or SolverOptions()))
    try:
        rollouts = await runner.evaluate(load_prompt("simple"), pairs)
    finally:
        await runner.solvers.aclose()  # type: ignore[attr-defined]
        await llm.aclose()
    assert all(r.error is None for r in rollouts), [r.error for r in rollouts]


async def test_code_rounds_ask_for_2048_tokens_and_no_stop(fake: FakeOpenAI) -> None:
    await run(fake, "AIME", "test")
    sent = solver_requests(fake)
    assert sent and all(body["max_tokens"] == 2048 and "stop" not in body for body in sent)


async def test_membench_asks_for_a_bare_letter_in_512_tokens(fake: FakeOpenAI) -> None:
    await run(fake, "membench-high", "test")
    (body,) = solver_requests(fake)
    assert body["max_tokens"] == 512 and "stop" not in body
    assert body["messages"][-1]["content"].rstrip().endswith("For example: B")


async def test_an_override_reaches_the_request_and_the_recorded_settings(fake: FakeOpenAI) -> None:
    options = SolverOptions(overrides={"membench-high": {"max_tokens": 300}}, datasets=["membench-high"])
    await run(fake, "membench-high", "test", options)
    (body,) = solver_requests(fake)
    assert body["max_tokens"] == 300
    recorded = options.as_dict()["datasets"]
    assert isinstance(recorded, dict) and recorded["membench-high"]["max_tokens"] == 300


async def test_the_longmemeval_judge_gets_one_user_message_and_10_tokens(fake: FakeOpenAI) -> None:
    await run(fake, "longmemeval", "ood")
    solver, *judges = solver_requests(fake)
    assert solver["max_tokens"] == 512 and "step by step" in solver["messages"][-1]["content"]
    assert len(judges) == 2  # the fake's "B" is no verdict: asked once more, then counted as unreadable
    for judge in judges:
        assert [m["role"] for m in judge["messages"]] == ["user"] and judge["max_tokens"] == 10
        assert "Model response: B" in judge["messages"][0]["content"]  # the whole answer


async def test_babyai_replies_stop_at_a_newline_with_its_1_shot_example(fake: FakeOpenAI) -> None:
    options = SolverOptions(overrides={"babyai": {"step_cap": 2}})
    await run(fake, "babyai", "test", options)
    sent = solver_requests(fake)
    assert len(sent) == 2 and all(body["stop"] == ["\n"] and body["max_tokens"] == 512 for body in sent)
    assert "Here is an example episode" in sent[0]["messages"][1]["content"]


def test_gmemory_agents_are_0_shot_in_memory_runs_unless_overridden() -> None:
    pair = load_pairs(DATA_ROOT, "alfworld", "test", limit=1, warn=lambda message: None)[0]
    registry = SolverRegistry(SolverOptions(env_root=default_env_root()))
    solver = registry("alfworld")
    assert isinstance(solver, EpisodeSolver) and solver.reply.stop == ("\n",) and solver.cap == 20
    system = solver.opening(pair, "1. a memory", "You are in a room.")[0]["content"]
    assert "Here is an example" not in system and "1. a memory" in system
    one_shot = SolverRegistry(SolverOptions(overrides={"alfworld": {"examples": 1}}))("alfworld")
    assert isinstance(one_shot, EpisodeSolver)
    assert "Here is an example" in one_shot.opening(pair, "", "You are in a room.")[0]["content"]


def test_the_embedded_backend_keeps_its_own_solver_limit() -> None:
    from clue.bench.solvers.common import ReplyLimits
    from clue.config import load_settings
    from clue.llm.client import LLM

    local = LLM(load_settings(env={}, no_cache=True))
    assert ReplyLimits(2048).max_tokens_for(local) == 512 and ReplyLimits(128).max_tokens_for(local) == 128
    remote = LLM(load_settings(env={}, cli={"backend": "openai", "base_url": "http://127.0.0.1:9/v1"},
                               no_cache=True))
    assert ReplyLimits(2048).max_tokens_for(remote) == 2048
