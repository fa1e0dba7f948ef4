"""`run_plan` on real pairs with a scripted endpoint: an extraction cut off inside <think> is recorded as
truncated (event, note, run-log warning), never passed off silently as an empty memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.run.evaluation import EvalPlan, run_plan
from clue.bench.run.events import LLMCallEvent
from clue.bench.run.record import read_runlog
from clue.bench.run.rollouts import read_rollouts
from clue.config import load_settings, parse_role_overrides
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.llm.types import Completion, Decoding, Message
from clue.memory.prompts import load_prompt
from clue.memory.render import EXTRACTION_INSTRUCTION


class ThinkingEndpoint(ScriptedBackend):
    """Extraction replies never leave <think> before the token limit; solver replies are plain."""

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        completion = await super().complete(model, messages, decoding, json_schema)
        if messages[-1]["content"].startswith(EXTRACTION_INSTRUCTION):
            completion.text = "<think>The user said several things; first, the genre they"
            completion.finish_reason = "length"
        return completion


async def test_an_extraction_cut_inside_think_is_recorded_as_truncated(tmp_path: Path) -> None:
    pairs = load_pairs(default_data_root(), "membench-high", "train", limit=2, warn=lambda m: None)
    backend = ThinkingEndpoint(lambda call: "<answer>A</answer>")
    llm = LLM(load_settings(env={}, role_overrides=parse_role_overrides(["extractor.max_tokens=16"])),
              backend=backend, cache=None)
    warnings: list[str] = []
    plan = EvalPlan(load_prompt("simple"), pairs, {"membench-high": 1}, {"datasets": ["membench-high"],
                                                                          "split": "train"})
    await run_plan(llm, plan, tmp_path, warn=warnings.append)
    for rollout in read_rollouts(tmp_path / "rollouts.jsonl"):
        # The reference keeps the raw text as the memory (`extractor.cut_thinking=empty` would empty it).
        assert rollout.memory.startswith("<think>The user said") and rollout.error is None
        assert any("cut off inside <think> at the 16-token limit" in note for note in rollout.notes)
        extraction = rollout.events[0]
        assert isinstance(extraction, LLMCallEvent) and extraction.role == "extractor"
        assert extraction.finish_reason == "length" and extraction.reply.startswith("<think>")
    assert any("2 rollout(s) had a reply cut off inside <think>" in w for w in warnings)
    assert any("cut off inside <think>" in w for w in read_runlog(tmp_path).warnings)


