"""One tournament run's context, shared by the loop and the methods' steps: the private state and when it is
saved, the budget checks, and evaluating prompts on a round's pairs. Also the ranking rules of the tournament
and the finals."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from clue.bench.data.records import Pair
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.rollouts import Rollout, rollout_id
from clue.errors import BadInputError
from clue.evolve.budget import unwrap
from clue.evolve.feedback import FeedbackPolicy, task_query
from clue.evolve.guardrails import LeakChecker
from clue.evolve.harness import Harness, PromptScore
from clue.evolve.lineage import build_lineage
from clue.evolve.protocol import EvolveSettings
from clue.evolve.replies import Replies
from clue.evolve.schedule import finals_keys, round_rollouts
from clue.evolve.state import PromptRecord, RoundState, RunState, StepField, load_state, step_result
from clue.evolve.summarize import ExampleLog, build_logs, dataset_names
from clue.evolve.watch import Reporter
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt


def rank(scores: Sequence[PromptScore], tie_break: str = "incumbent") -> list[PromptScore]:
    """Best first by accuracy. Ties: "incumbent" keeps entry order (the base is entered first, so it keeps a
    tie, as in the reference code); "tokens" prefers fewer tokens, then less time (the paper's text)."""
    order = {s.prompt_hash: i for i, s in enumerate(scores)}
    if tie_break == "tokens":
        return sorted(scores, key=lambda s: (-_ranked(s), s.tokens, s.seconds, order[s.prompt_hash]))
    return sorted(scores, key=lambda s: (-_ranked(s), order[s.prompt_hash]))


def _ranked(score: PromptScore) -> float:
    """A prompt none of whose rollouts could be scored (all infrastructure failures) ranks last."""
    return -1.0 if score.accuracy is None else score.accuracy


def select_top(scores: Sequence[PromptScore], k: int, tie_break: str = "incumbent") -> list[str]:
    return [s.prompt_hash for s in rank(scores, tie_break)[:max(k, 1)]]


ResultT = TypeVar("ResultT")


async def run_all(jobs: Sequence[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run jobs concurrently; one failure cancels the rest (a crash leaves no stray writer behind)."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job())
    except BaseExceptionGroup as failures:
        inner = unwrap(failures)
        if inner is failures:
            raise
        raise inner from None


@dataclass
class RunContext:
    """One optimizer run: the harness, the settings, the state and how to save it."""

    method: str
    harness: Harness
    settings: EvolveSettings
    run_dir: Path
    state: RunState
    pairs: dict[str, Pair]
    reporter: Reporter
    leaks: LeakChecker
    names: list[str]

    @classmethod
    def open(cls, method: str, seed_prompt: ExtractionPrompt, train_pairs: Sequence[Pair], harness: Harness,
             settings: EvolveSettings, run_dir: Path, resume: bool, reporter: Reporter) -> RunContext:
        pairs = {p.key: p for p in train_pairs}
        if not pairs:
            raise BadInputError(f"{method}: no training pairs to evolve on")
        recorder = harness.recorder_for(run_dir)
        state = load_state(recorder) if resume else None
        where = recorder.private_state_path
        if state is not None:
            if state.method != method:
                raise BadInputError(f"{where}: run was made by {state.method!r}, not {method!r}")
            if set(state.pool) != set(pairs):
                raise BadInputError(f"{where}: the training pairs differ from the run being resumed")
            if state.seed_hash != seed_prompt.hash:
                raise BadInputError(f"{where}: the seed prompt differs from the run being resumed")
        else:
            pool = sorted(pairs)
            random.Random(settings.seed).shuffle(pool)
            state = RunState(method=method, seed=settings.seed, pool=pool, base=seed_prompt.hash,
                             seed_hash=seed_prompt.hash,
                             prompts={seed_prompt.hash: PromptRecord.of(seed_prompt)})
        state.settings = asdict(settings)
        run = cls(method, harness, settings, run_dir, state, pairs, reporter,
                  LeakChecker.for_pairs(train_pairs, settings.leak_ngram), dataset_names(train_pairs))
        run.save()
        return run

    @property
    def llm(self) -> LLM:
        return self.harness.llm

    @property
    def replies(self) -> Replies:
        """How optimizer steps ask (tries per reply) and where unusable replies are counted (saved with the state)."""
        return self.settings.replies(self.state.replies)

    def worst_rollouts(self, rs: RoundState) -> int:
        """The most new rollouts the round's unfinished steps can still need."""
        settings = self.settings
        resampled, new = finals_keys(self.state.pool, self.state.cursor, settings.batch, settings.resample,
                                     settings.seed, rs.index)
        return round_rollouts(rs, settings, resampled + new, self.repeat, self.harness.store.__contains__)

    async def fill(self, rs: RoundState, field: StepField,
                   jobs: dict[str, Callable[[], Awaitable[Any]]]) -> None:
        """Run, concurrently, the jobs whose key has no result yet in the round's `field`; each result is
        stored and journaled as it lands (one appended line, not a rewrite of the state), so a crash loses
        only the jobs still running and a resume starts just those."""
        results: dict[str, Any] = getattr(rs, field)

        async def one(key: str, make: Callable[[], Awaitable[Any]]) -> None:
            results[key] = await make()
            self.recorder.journal_private_result(step_result(field, rs.index, key, results[key], self.state.replies))

        await run_all([functools.partial(one, key, make) for key, make in jobs.items() if key not in results])

    @property
    def recorder(self) -> RunRecorder:
        return self.harness.recorder_for(self.run_dir)

    def save(self, *, lineage: bool = True) -> None:
        self.state.budget = self.harness.meter.summary()
        self.recorder.save_private_state(self.state)
        if lineage:
            self.recorder.record_lineage(build_lineage(self.state))

    def write_best(self) -> None:
        self.recorder.write_best_prompt(self.state.prompts[self.state.base].text)

    def check_budget(self) -> None:
        """Before optimizer-LLM work: stop if the token budget is spent (rollouts are checked when run)."""
        self.harness.meter.reserve(0)

    async def step(self, rs: RoundState, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a step unless the state says it is done; save when it starts and when it ends."""
        if name in rs.done:
            return
        self.state.step = f"round {rs.index + 1}: {name}"
        self.save(lineage=False)
        self.reporter.step(self.method, rs.index + 1, name)
        await work()
        rs.done.append(name)
        self.save()

    def batch_pairs(self, rs: RoundState) -> list[Pair]:
        return [self.pairs[k] for k in rs.batch]

    def query(self, pair: Pair) -> str:
        """The solver's task text, for the optimizer's view of an example."""
        return task_query(self.harness.runner.tasks)(pair)

    def repeat(self, stage: str) -> int:
        """Repeat index of a stage. Reusing rollouts, the tournament shares the baseline's repeat 0 (the base's
        result on the batch is computed once); otherwise it draws fresh rollouts, as the reference does. The
        finals draw fresh rollouts on the resampled pairs (the reference), unless `reuse_finals`."""
        tournament = 0 if self.settings.reuse_rollouts else 1
        if stage == "baseline":
            return 0
        if stage == "tournament":
            return tournament
        return tournament if self.settings.reuse_finals else 2

    async def evaluate_many(self, rs: RoundState, prompts: Sequence[ExtractionPrompt], pairs: Sequence[Pair],
                            stage: str = "baseline") -> dict[str, list[Rollout]]:
        new, reused = self.harness.new_rollouts, self.harness.reused_rollouts
        repeat = self.repeat(stage)
        try:
            if self.settings.concurrent_candidates:
                return await self.harness.evaluate_many(prompts, pairs, repeat)
            results: dict[str, list[Rollout]] = {}
            for prompt in prompts:
                if prompt.hash not in results:
                    results[prompt.hash] = await self.harness.evaluate(prompt, pairs, repeat)
            return results
        finally:
            rs.new_rollouts += self.harness.new_rollouts - new
            rs.reused_rollouts += self.harness.reused_rollouts - reused

    async def logs(self, rs: RoundState) -> list[ExampleLog]:
        """The batch as the optimizer sees it: the base prompt's rollouts (from the store) and summaries."""
        base = self.state.prompt(rs.base_hash)
        pairs = self.batch_pairs(rs)
        found = [self.harness.store.get(rollout_id(base.hash, p.key, 0)) for p in pairs]
        rollouts = [r for r in found if r is not None]
        if len(rollouts) < len(pairs):
            rollouts = (await self.evaluate_many(rs, [base], pairs))[base.hash]
        return build_logs(pairs, rollouts, self.query, rs.summaries, self.policy())

    def policy(self, source_chars: int | None = None) -> FeedbackPolicy:
        chars = self.settings.case_chars if source_chars is None else source_chars
        return FeedbackPolicy(show_gold=self.settings.feedback_gold, source_chars=chars, memory_chars=chars,
                              query_chars=chars, output_chars=chars)
