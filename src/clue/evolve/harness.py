"""The one harness every optimizer uses: evaluate prompts on pairs, reusing every finished rollout."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from clue.bench.data.records import Pair
from clue.bench.run.rollouts import Rollout, RolloutStore, rollout_id
from clue.bench.run.runner import Runner
from clue.evolve.budget import BudgetMeter
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt


@dataclass(frozen=True)
class PromptScore:
    """What tournaments rank on: accuracy, then fewer tokens, then less time."""

    prompt_hash: str
    accuracy: float
    tokens: int
    seconds: float
    n: int


def score_rollouts(prompt: ExtractionPrompt, rollouts: Sequence[Rollout]) -> PromptScore:
    n = len(rollouts)
    return PromptScore(prompt_hash=prompt.hash,
                       accuracy=sum(r.reward for r in rollouts) / n if n else 0.0,
                       tokens=sum(r.tokens for r in rollouts),
                       seconds=sum(r.latency_s for r in rollouts), n=n)


class Harness:
    """Results are keyed by (prompt hash, pair, repeat) in one rollout store, so nothing is computed twice:
    the base prompt's batch result is reused in the tournament and the finals, and a resumed run reuses all.
    """

    def __init__(self, runner: Runner, store: RolloutStore, meter: BudgetMeter) -> None:
        self.runner = runner
        self.store = store
        self.meter = meter
        self.reused_rollouts = 0
        self.new_rollouts = 0

    @property
    def llm(self) -> LLM:
        return self.runner.llm

    def missing(self, prompt: ExtractionPrompt, pairs: Sequence[Pair], repeat: int = 0) -> int:
        return sum(1 for p in pairs if rollout_id(prompt.hash, p.key, repeat) not in self.store)

    async def evaluate(self, prompt: ExtractionPrompt, pairs: Sequence[Pair], repeat: int = 0) -> list[Rollout]:
        new = self.missing(prompt, pairs, repeat)
        self.meter.reserve(new)
        rollouts = await self.runner.evaluate(prompt, pairs, (repeat,), store=self.store)
        self.meter.charge(new)
        self.new_rollouts += new
        self.reused_rollouts += len(pairs) - new
        return rollouts

    async def evaluate_many(self, prompts: Sequence[ExtractionPrompt], pairs: Sequence[Pair],
                            repeat: int = 0) -> dict[str, list[Rollout]]:
        """Candidates run concurrently; the whole set is reserved up front so none starts past the budget."""
        unique = list({p.hash: p for p in prompts}.values())
        self.meter.reserve(sum(self.missing(p, pairs, repeat) for p in unique))
        results = await asyncio.gather(*(self.evaluate(p, pairs, repeat) for p in unique))
        return {p.hash: r for p, r in zip(unique, results, strict=True)}
