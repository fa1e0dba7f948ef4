"""A solver whose conversation outgrows the model's window has failed its task (reward 0), as in the reference;
it is not an infrastructure failure left out of the scores. The openai backend's default window is the
reference's 40,960 tokens."""

from __future__ import annotations

from typing import Any

import pytest

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.run.runner import Runner
from clue.llm.backends.openai_backend import OpenAIBackend
from clue.llm.types import ContextOverflowError
from clue.memory.prompts import load_prompt
from tests.support.fake_openai import FakeOpenAI, Reply, chat_reply, make_llm

OVERFLOW = {"object": "error", "type": "BadRequestError", "code": 400,
            "message": "This model's maximum context length is 40960 tokens. However, you requested 41234 tokens "
                       "(40722 in the messages, 512 in the completion). Please reduce the length."}


def extractor_answers_solver_overflows(body: dict[str, Any]) -> Reply:
    if (body.get("chat_template_kwargs") or {}).get("enable_thinking"):  # the extractor thinks, the solver not
        return 200, chat_reply("1. The user likes green tea.")
    return 400, {"error": OVERFLOW}


@pytest.mark.parametrize("dataset", ["membench-high", "GameOf24"])
async def test_a_solver_context_overflow_is_a_failed_task_not_an_infrastructure_failure(dataset: str) -> None:
    server = FakeOpenAI(responder=extractor_answers_solver_overflows)
    pair = load_pairs(default_data_root(), dataset, "all", limit=1, warn=lambda message: None)[0]
    llm = make_llm(server.base_url)
    try:
        rollout = await Runner(llm).run_one(load_prompt("simple"), pair, 0)
    finally:
        await llm.aclose()
        server.close()
    assert rollout.memory == "1. The user likes green tea."
    assert rollout.reward == 0.0 and rollout.success is False and not rollout.infra_failure
    assert rollout.error is None and "failed task: solver context overflow" in rollout.score_detail
    assert "maximum context length" in rollout.score_detail
    assert [e.kind for e in rollout.events][-1] == "score"


async def test_a_request_over_the_window_by_our_own_count_fails_the_task_the_same_way() -> None:
    server = FakeOpenAI(responder=lambda body: (200, chat_reply("1. memo")))
    pair = load_pairs(default_data_root(), "membench-high", "all", limit=1, warn=lambda message: None)[0]
    llm = make_llm(server.base_url, "solver.context_size=600")  # the solver's prompt cannot fit in 600
    try:
        rollout = await Runner(llm).run_one(load_prompt("simple"), pair, 0)
    finally:
        await llm.aclose()
        server.close()
    assert rollout.reward == 0.0 and not rollout.infra_failure and "context overflow" in rollout.score_detail
    assert len(server.requests) == 1  # only the extractor's call went out


async def test_the_openai_backend_defaults_to_the_reference_window_and_reads_the_servers_overflow() -> None:
    assert OpenAIBackend("http://127.0.0.1:9/v1").context_size("Qwen/Qwen3-32B") == 40960
    server = FakeOpenAI(responder=lambda body: (400, {"error": OVERFLOW}))
    llm = make_llm(server.base_url)
    try:
        with pytest.raises(ContextOverflowError, match="context window exceeded"):
            await llm.chat("solver", [{"role": "user", "content": "hi"}])
    finally:
        await llm.aclose()
        server.close()
