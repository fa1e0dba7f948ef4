"""On a single local model, rollouts finish one after another instead of all at the end."""

from __future__ import annotations

import threading
import time
from typing import Any

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.run.rollouts import Rollout
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.llm.backends.local import LocalBackend, _LoadedModel
from clue.llm.client import LLM
from clue.llm.types import Completion, Decoding, Message
from clue.memory.prompts import load_prompt

ROLLOUTS = 12


class SlowSerialModel(LocalBackend):
    """The real LocalBackend queue and worker thread; only the model itself is a 50 ms stand-in."""

    def __init__(self) -> None:
        super().__init__()
        self.finished_calls = 0
        self._lock = threading.Lock()

    def _loaded(self, model: str) -> _LoadedModel:
        return _LoadedModel(llama=None, n_ctx=8192, prefixes=None)  # type: ignore[arg-type]

    def count_tokens(self, model: str, text: str) -> int:
        return len(text.split()) + 1

    def _complete_blocking(self, model: str, loaded: _LoadedModel, messages: list[Message],
                           decoding: Decoding, json_schema: dict[str, Any] | None) -> Completion:
        time.sleep(0.05)  # long against the event loop's turnaround, even on a loaded machine
        with self._lock:
            self.finished_calls += 1
        return Completion(text="1. use every number once\n<answer>(4+4)*3</answer>", prompt_tokens=10,
                          completion_tokens=5, latency_s=0.05)


async def test_the_first_rollout_finishes_within_two_rollouts_of_model_time() -> None:
    pairs = load_pairs(default_data_root(), "GameOf24", "all", limit=ROLLOUTS, warn=lambda message: None)
    model = SlowSerialModel()
    calls_when_done: list[int] = []

    def on_rollout(rollout: Rollout, was_done: bool) -> None:
        calls_when_done.append(model.finished_calls)

    llm = LLM(load_settings(env={}), backend=model, cache=None)
    try:
        rollouts = await Runner(llm, on_rollout=on_rollout).evaluate(load_prompt("simple"), pairs)
    finally:
        await llm.aclose()

    assert len(rollouts) == ROLLOUTS and all(r.error is None for r in rollouts)
    assert model.finished_calls == 2 * ROLLOUTS  # one extraction and one solve each
    # Queued in arrival order, the first rollout would finish only after all 12 extractions (13 calls).
    assert calls_when_done[0] <= 4, calls_when_done
    # ... and results keep coming at a steady pace rather than in a burst at the end.
    assert calls_when_done[ROLLOUTS // 2 - 1] <= ROLLOUTS + 2, calls_when_done
