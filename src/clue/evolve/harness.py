"""The one harness every optimizer uses: evaluate prompts on pairs, reusing every finished rollout.

Scores follow the rollout's own rule (`Rollout.scored`), as eval's results do: a rollout that failed for an
infrastructure reason is retried a couple of times and, if it keeps failing, left out of the score and
counted (`PromptScore.left_out`), never scored 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clue.bench.data.records import Pair
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.rollouts import Rollout, RolloutStore, rollout_id
from clue.bench.run.runner import Runner
from clue.evolve.budget import BudgetMeter
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt

INFRA_RETRIES = 2  # further attempts at a rollout that failed for an infrastructure reason


@dataclass(frozen=True)
class PromptScore:
    """What tournaments rank on: accuracy, then fewer tokens, then less time. `accuracy` is over the scored
    rollouts (`n`); None when none was scored. `left_out`: infrastructure failures, not in the score."""

    prompt_hash: str
    accuracy: float | None
    tokens: int
    seconds: float
    n: int
    left_out: int = 0


def score_rollouts(prompt: ExtractionPrompt, rollouts: Sequence[Rollout]) -> PromptScore:
    scored = [r for r in rollouts if r.scored]
    return PromptScore(prompt_hash=prompt.hash,
                       accuracy=sum(r.reward for r in scored) / len(scored) if scored else None,
                       tokens=sum(r.tokens for r in rollouts),
                       seconds=sum(r.latency_s for r in rollouts), n=len(scored),
                       left_out=len(rollouts) - len(scored))


class Harness:
    """Results are keyed by (prompt hash, pair, repeat) in one rollout store, so nothing is computed twice:
    the base prompt's batch result is reused in the tournament and the finals, and a resumed run reuses all.
    """

    def __init__(self, runner: Runner, store: RolloutStore, meter: BudgetMeter, *,
                 recorder: RunRecorder | None = None) -> None:
        self.runner = runner
        self.store = store
        self.meter = meter
        self.recorder = recorder
        self.reused_rollouts = 0
        self.new_rollouts = 0
        self.retried_rollouts = 0

    def recorder_for(self, run_dir: Path) -> RunRecorder:
        """Where an optimizer records its progress, lineage and private state: the run's recorder, or (a
        harness driven without a run, in tests) one that keeps only the optimizer's own files in `run_dir`."""
        if self.recorder is None:
            self.recorder = RunRecorder.detached(run_dir)
        return self.recorder

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
        return await self._retry_failures(prompt, pairs, repeat, rollouts)

    async def _retry_failures(self, prompt: ExtractionPrompt, pairs: Sequence[Pair], repeat: int,
                              rollouts: list[Rollout]) -> list[Rollout]:
        """Run again, up to INFRA_RETRIES times, the rollouts that failed for an infrastructure reason (paid in
        tokens and calls; the rollout was already charged). What still fails is left for `score_rollouts` to
        leave out and count."""
        by_key = {p.key: p for p in pairs}
        for _ in range(INFRA_RETRIES):
            failed = [by_key[r.pair_key] for r in rollouts if not r.scored]
            if not failed or self.meter.exhausted():
                break
            self.retried_rollouts += len(failed)
            again = {r.rollout_id: r for r in await self.runner.evaluate(prompt, failed, (repeat,),
                                                                         store=self.store)}
            rollouts = [again.get(r.rollout_id, r) for r in rollouts]
        return rollouts

    async def evaluate_many(self, prompts: Sequence[ExtractionPrompt], pairs: Sequence[Pair],
                            repeat: int = 0) -> dict[str, list[Rollout]]:
        """Candidates run concurrently; the whole set is reserved up front so none starts past the budget."""
        unique = list({p.hash: p for p in prompts}.values())
        self.meter.reserve(sum(self.missing(p, pairs, repeat) for p in unique))
        results = await asyncio.gather(*(self.evaluate(p, pairs, repeat) for p in unique))
        return {p.hash: r for p, r in zip(unique, results, strict=True)}
