"""The tournament loop shared by CluE and MemEvolve: evaluate the base, let the method propose candidates,
run the tournament on the batch, then the finals on resampled plus new pairs; the winner is the next base.

A method subclasses `TournamentOptimizer` and implements only `propose` (its own steps, e.g. summarize,
cluster, analyze, synthesize). Selection, finals, guardrails, persistence, budget handling and reporting
live here once.

Pairs: the training pool is shuffled once (seeded). Round r's batch is `batch` pairs from the cursor; its
finals use `resample` pairs drawn (seeded) from earlier rounds' batches, plus the *next* `batch` pairs, which
are also round r+1's batch: the winner has already run on them, so the next round's base evaluation is free.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from clue.bench.records import Pair
from clue.bench.rollouts import Rollout, rollout_id
from clue.evolve.budget import BudgetExhausted
from clue.evolve.guardrails import LeakChecker, check_candidate
from clue.evolve.harness import Harness, PromptScore, score_rollouts
from clue.evolve.lineage import history, write_lineage
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.reporting import Reporter, round_report
from clue.evolve.state import (
    AnalysisRecord,
    CandidateRecord,
    EditRecord,
    PromptRecord,
    RoundState,
    RunState,
    ScoreRecord,
    StateFile,
    write_atomic,
)
from clue.evolve.summarize import ExampleLog, build_logs, dataset_names
from clue.evolve.synthesize import Synthesis, apply_edits, synthesize
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt


def rank(scores: Sequence[PromptScore]) -> list[PromptScore]:
    """Best first: higher accuracy, then fewer tokens, then less time; entry order settles exact ties."""
    order = {s.prompt_hash: i for i, s in enumerate(scores)}
    return sorted(scores, key=lambda s: (-s.accuracy, s.tokens, s.seconds, order[s.prompt_hash]))


def select_top(scores: Sequence[PromptScore], k: int) -> list[str]:
    return [s.prompt_hash for s in rank(scores)[:max(k, 1)]]


def pool_slice(pool: Sequence[str], start: int, n: int) -> list[str]:
    """`n` keys from `start`, wrapping around a pool that runs out (wrapped keys reuse cached rollouts)."""
    if not pool:
        return []
    return [pool[(start + i) % len(pool)] for i in range(min(n, len(pool)))]


def finals_keys(pool: Sequence[str], cursor: int, batch: int, resample: int, seed: int,
                round_index: int) -> tuple[list[str], list[str]]:
    """(resampled, new). Resampled come from earlier batches, topped up from the current one in round 1."""
    current = pool_slice(pool, cursor, batch)
    new = pool_slice(pool, cursor + batch, batch)
    taken = set(current) | set(new)
    earlier = list(dict.fromkeys(k for k in pool_slice(pool, 0, min(cursor, len(pool))) if k not in taken))
    rng = random.Random(seed * 1000 + round_index)
    picked = rng.sample(earlier, min(resample, len(earlier)))
    if len(picked) < resample:
        spare = [k for k in current if k not in new]
        picked += rng.sample(spare, min(resample - len(picked), len(spare)))
    return picked, [k for k in new if k not in picked]


def budget_error(exc: BaseException) -> BudgetExhausted | None:
    if isinstance(exc, BudgetExhausted):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = budget_error(inner)
            if found is not None:
                return found
    return None


def unwrap(exc: BaseException) -> BaseException:
    """The single error inside (nested) one-member exception groups, so callers see e.g. an LLMError."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


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
            raise ValueError(f"{method}: no training pairs to evolve on")
        file = StateFile(run_dir / "state.json")
        if resume and file.exists():
            state = file.load()
            if state.method != method:
                raise ValueError(f"{file.path}: run was made by {state.method!r}, not {method!r}")
            if set(state.pool) != set(pairs):
                raise ValueError(f"{file.path}: the training pairs differ from the run being resumed")
            if state.seed_hash != seed_prompt.hash:
                raise ValueError(f"{file.path}: the seed prompt differs from the run being resumed")
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

    async def fill(self, results: dict[str, ResultT], jobs: dict[str, Callable[[], Awaitable[ResultT]]]) -> None:
        """Run, concurrently, the jobs whose key has no result yet; store each result and save the state as it
        lands, so a crash loses only the jobs still running and a resume starts just those."""

        async def one(key: str, make: Callable[[], Awaitable[ResultT]]) -> None:
            results[key] = await make()
            self.save(lineage=False)

        await run_all([functools.partial(one, key, make) for key, make in jobs.items() if key not in results])

    def save(self, *, lineage: bool = True) -> None:
        self.state.budget = self.harness.meter.summary()
        StateFile(self.run_dir / "state.json").save(self.state)
        if lineage:
            write_lineage(self.run_dir / "lineage.json", self.state)

    def write_best(self) -> None:
        write_atomic(self.run_dir / "best_prompt.txt", self.state.prompts[self.state.base].text)

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
        try:
            messages = self.harness.runner.tasks(pair.dataset).query_messages(pair)
            return "\n".join(m["content"] for m in messages if m["role"] == "user")
        except Exception:  # an unknown task must not stop the optimizer; show the raw target instead
            return json.dumps(pair.target, default=str)[:2000]

    async def evaluate_many(self, rs: RoundState, prompts: Sequence[ExtractionPrompt],
                            pairs: Sequence[Pair]) -> dict[str, list[Rollout]]:
        new, reused = self.harness.new_rollouts, self.harness.reused_rollouts
        try:
            return await self.harness.evaluate_many(prompts, pairs)
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
        return build_logs(pairs, rollouts, self.query, rs.summaries)


class TournamentOptimizer(ABC):
    """The shared round: baseline, proposals (the subclass's part), tournament, finals."""

    name = "tournament"

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or Reporter()

    @abstractmethod
    async def propose(self, run: RunContext, rs: RoundState) -> None:
        """Fill `rs.candidates` (see `synthesize_candidates`), each step through `run.step` (resumable)."""

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        run = RunContext.open(self.name, seed_prompt, train_pairs, harness, settings, run_dir, resume,
                              self.reporter)
        stopped = "finished"
        try:
            while run.state.completed_rounds < settings.rounds:
                await self._round(run)
        except Exception as exc:
            found = budget_error(exc)
            if found is None:
                inner = unwrap(exc)
                if inner is exc:
                    raise
                raise inner from None
            stopped = f"budget: {found}"
            self.reporter.stopped(self.name, stopped)
        run.state.stopped_by = None if stopped == "finished" else stopped
        run.state.finished = stopped == "finished"
        run.state.step = "finished" if run.state.finished else f"stopped ({stopped})"
        run.save()
        run.write_best()
        return OptimizationResult(best=run.state.prompt(run.state.base), history=history(run.state),
                                  stopped_by=stopped)

    async def _round(self, run: RunContext) -> None:
        state, settings = run.state, run.settings
        rs = state.open_round
        if rs is None:
            rs = RoundState(index=state.completed_rounds, base_hash=state.base,
                            batch=pool_slice(state.pool, state.cursor, settings.batch))
            state.rounds.append(rs)
        await run.step(rs, "baseline", lambda: self._baseline(run, rs))
        await self.propose(run, rs)
        await run.step(rs, "tournament", lambda: self._tournament(run, rs))
        await run.step(rs, "finals", lambda: self._finals(run, rs))
        self.reporter.round_finished(round_report(run.state, rs, run.settings.rounds))

    async def _baseline(self, run: RunContext, rs: RoundState) -> None:
        base = run.state.prompt(rs.base_hash)
        results = await run.evaluate_many(rs, [base], run.batch_pairs(rs))
        rs.base_score = ScoreRecord.of(score_rollouts(base, results[base.hash]), base.name)

    async def _tournament(self, run: RunContext, rs: RoundState) -> None:
        base = run.state.prompt(rs.base_hash)
        entrants = [base]
        for c in rs.sorted_candidates():
            if c.rejected is not None or c.hash is None:
                continue
            twin = next((p for p in entrants if p.hash == c.hash), None)
            if twin is not None:
                c.rejected = f"same text as {twin.name}"
                self.reporter.rejected(self.name, rs.index + 1, c.name, c.rejected)
                continue
            entrants.append(run.state.prompt(c.hash))
        results = await run.evaluate_many(rs, entrants, run.batch_pairs(rs))
        scores = [score_rollouts(p, results[p.hash]) for p in entrants]
        rs.tournament = [ScoreRecord.of(s, p.name) for s, p in zip(scores, entrants, strict=True)]
        rs.finalists = select_top(scores, run.settings.top)

    async def _finals(self, run: RunContext, rs: RoundState) -> None:
        state, settings = run.state, run.settings
        finalists = [state.prompt(h) for h in rs.finalists]
        winner = rs.finalists[0]
        if len(finalists) > 1:
            resampled, new = finals_keys(state.pool, state.cursor, settings.batch, settings.resample,
                                         settings.seed, rs.index)
            rs.finals_pairs = resampled + new
            results = await run.evaluate_many(rs, finalists, [run.pairs[k] for k in rs.finals_pairs])
            scores = [score_rollouts(p, results[p.hash]) for p in finalists]
            rs.finals = [ScoreRecord.of(s, p.name) for s, p in zip(scores, finalists, strict=True)]
            winner = rank(scores)[0].prompt_hash
        # One atomic save (made by run.step) closes the round: winner, new base, cursor.
        rs.winner = winner
        state.base = winner
        state.completed_rounds = rs.index + 1
        state.cursor += settings.batch
        run.write_best()

    async def synthesize_candidates(self, run: RunContext, rs: RoundState,
                                    analyses_for: Callable[[int], list[AnalysisRecord]]) -> None:
        """Draft `settings.candidates` candidates concurrently (repeat index = draft index) and vet them."""
        base = run.state.prompt(rs.base_hash)
        total = run.settings.candidates

        async def draft(index: int) -> CandidateRecord:
            analyses = analyses_for(index)
            if any(a.recommendations for a in analyses):
                drafted = await synthesize(run.llm, base, analyses, index=index, total=total)
            else:
                drafted = Synthesis(error="no analysis produced recommendations")
            return self.vet(run, rs, index, drafted, [a.key for a in analyses])

        run.check_budget()
        await run.fill(rs.candidates, {str(i): functools.partial(draft, i) for i in range(total)})

    def vet(self, run: RunContext, rs: RoundState, index: int, drafted: Synthesis,
            sources: list[str]) -> CandidateRecord:
        """Apply the edits and the guardrails; a rejected candidate keeps its reason and never runs."""
        base = run.state.prompt(rs.base_hash)
        name = f"{self.name}-r{rs.index + 1}-c{index + 1}"
        record = CandidateRecord(index=index, name=name, parent=base.hash,
                                 edits=[EditRecord(**e.model_dump()) for e in drafted.edits],
                                 rationale=drafted.rationale, sources=sources, notes=list(drafted.notes))
        if drafted.error is not None and not drafted.truncated:
            record.rejected = f"no usable edits: {drafted.error}"
        else:
            text, notes = apply_edits(base.text, drafted.edits)
            prompt = ExtractionPrompt(record.name, text)
            record.text, record.hash = text, prompt.hash
            record.notes += notes
            record.rejected = check_candidate(text, base_text=base.text, truncated=drafted.truncated,
                                              max_chars=run.settings.max_prompt_chars, leaks=run.leaks)
            if record.rejected is None and prompt.hash == base.hash:
                record.rejected = "no change to the base prompt"
            if record.rejected is None:
                run.state.remember(PromptRecord.of(prompt, parent=base.hash, round=rs.index))
        if record.rejected is not None:
            self.reporter.rejected(self.name, rs.index + 1, record.name, record.rejected)
        return record
