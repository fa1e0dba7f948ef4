"""What connects the synchronous `gepa` library to clue: coroutines run on the caller's loop from gepa's worker
thread, gepa's stop callback over our budget, and its reflection LM answered by our `optimizer` role.

Budget: gepa asks the stop callback before every iteration; it says stop unless the iteration's worst case
(the parent and the child on a minibatch, then the child on the whole validation half) fits the rollouts
left, and the tokens and calls left cover the costliest iteration so far. It also stops after
`IDLE_ITERATIONS` iterations in a row that ran no new rollout (every proposal unusable, rejected by a
guardrail, or already seen), which would otherwise loop on reflection calls alone.

Reflection: a reply must hold the new prompt inside ``` fences; one that does not is asked again with the
reason (up to `reply_attempts` tries in all), then counted as unusable and gives no candidate (gepa skips
the proposal; nothing is evaluated).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

from clue.evolve.budget import BudgetExhausted, BudgetMeter, UnitCost
from clue.evolve.replies import Replies
from clue.llm.client import LLM
from clue.llm.types import Message

T = TypeVar("T")
IDLE_ITERATIONS = 10


class GepaStop(Exception):
    """Raised inside gepa's thread to end the run: the budget cannot pay for the next step, or the
    evolution task was cancelled."""


class UnusableReflection(Exception):
    """The reflection LM gave no prompt after every re-ask: gepa skips this proposal."""


class _LoopBridge:
    """Runs coroutines on the caller's event loop from gepa's worker thread, one at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.cancelled = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.cancelled:
            coro.close()
            raise GepaStop("the evolution task was cancelled")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()


def budget_text(meter: BudgetMeter) -> str:
    used = meter.summary()
    parts = [f"{used['rollouts_spent']}/{used['max_rollouts'] or '-'} rollouts"]
    if used["max_tokens"] is not None:
        parts.append(f"{used['tokens_spent']}/{used['max_tokens']} tokens")
    return ", ".join(parts)


class MeterStopper:
    """gepa stop callback: true once the next iteration cannot finish within the budget, once too many
    iterations in a row ran nothing new, or once a component asked to stop (with a reason)."""

    def __init__(self, meter: BudgetMeter, worst_iteration: int) -> None:
        self.meter = meter
        self.worst_iteration = worst_iteration
        self.reason: str | None = None
        self._unit: UnitCost | None = None
        self._rollouts_at_start = meter.rollouts_spent
        self._idle = 0

    def request(self, reason: str) -> None:
        """Stop for a budget reason (the run's `stopped_by` is then "budget: <reason>")."""
        self.reason = self.reason or f"budget: {reason}"

    def began(self, unit: UnitCost) -> None:
        """A unit started outside gepa's loop (the seed's validation); it ends at the first iteration's check."""
        self._unit = unit

    def __call__(self, gepa_state: Any) -> bool:
        if self._unit is not None:  # the previous iteration is over
            self.meter.finish_unit(self._unit)
            self._idle = self._idle + 1 if self.meter.rollouts_spent == self._rollouts_at_start else 0
        if self.reason is None and self._idle >= IDLE_ITERATIONS:
            self.reason = f"stalled: {IDLE_ITERATIONS} iterations in a row ran no new rollout"
        if self.reason is None:
            iteration = int(getattr(gepa_state, "i", -1)) + 2  # gepa numbers the next iteration i + 2
            try:
                self._unit = self.meter.start_unit(f"iteration {iteration}", self.worst_iteration)
            except BudgetExhausted as exc:
                self.request(str(exc))
        self._rollouts_at_start = self.meter.rollouts_spent
        return self.reason is not None


_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_OPENED = re.compile(r"^```[^\n]*\n(.*)", re.MULTILINE | re.DOTALL)


def has_prompt(reply: str, truncated: bool = False) -> bool:
    """Whether a reflection reply holds a non-empty prompt in a ``` block (fences at line starts). A reply cut
    by the token limit may lack the closing fence: the truncation guardrail judges that prompt."""
    match = _BLOCK.search(reply) or (_OPENED.search(reply) if truncated else None)
    return bool(match and match.group(1).strip())


class OptimizerRoleLM:
    """gepa's reflection LM, answered by our `optimizer` role on the caller's loop."""

    def __init__(self, llm: LLM, bridge: _LoopBridge, stopper: MeterStopper, truncated_replies: list[str],
                 replies: Replies) -> None:
        self.llm = llm
        self.bridge = bridge
        self.stopper = stopper
        self.truncated_replies = truncated_replies
        self.replies = replies
        self._failed: str | None = None  # digest of the last prompt that got no usable reply

    @staticmethod
    def _messages(prompt: str | list[dict[str, Any]]) -> list[Message]:
        if isinstance(prompt, str):
            return [{"role": "user", "content": prompt}]
        messages: list[Message] = []
        for item in prompt:
            content = item.get("content", "")
            if isinstance(content, list):  # multimodal parts: keep the text
                content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            messages.append({"role": str(item.get("role", "user")), "content": str(content)})
        return messages

    def __call__(self, prompt: str | list[dict[str, Any]]) -> str:
        if self.stopper.meter.exhausted():
            self.stopper.request(f"spent before reflection ({budget_text(self.stopper.meter)})")
            raise GepaStop(self.stopper.reason)
        messages = self._messages(prompt)
        digest = hashlib.sha256(repr(messages).encode()).hexdigest()
        if digest == self._failed:  # gepa retries a failed batch once per task: same prompt, same answer
            raise UnusableReflection("the reflection reply held no prompt in ``` fences")
        return self._ask(messages, digest)

    def _ask(self, messages: list[Message], digest: str) -> str:
        conversation = list(messages)
        tries = max(self.replies.attempts, 1)
        for attempt in range(1, tries + 1):
            completion = self.bridge.run(self.llm.chat("optimizer", conversation))
            if has_prompt(completion.text, completion.truncated):
                self.replies.counts.note("reflection", attempts=attempt, usable=True)
                self.replies.counts.candidate(usable=True)
                if completion.truncated:
                    self.truncated_replies.append(completion.text)
                return completion.text
            conversation = [*messages, {"role": "assistant", "content": completion.text[:2000]},
                            {"role": "user", "content": "That reply held no new prompt inside ``` fences. Reply "
                             "with the complete new prompt inside ``` fences."}]
        self.replies.counts.note("reflection", attempts=tries, usable=False)
        self.replies.counts.candidate(usable=False)
        self._failed = digest
        raise UnusableReflection(f"the reflection reply held no prompt in ``` fences after {tries} tries")
