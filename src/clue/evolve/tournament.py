"""The tournament loop shared by CluE and MemEvolve: evaluate the base, let the method propose candidates,
run the tournament on the batch, then the finals on resampled plus new pairs; the winner is the next base.

A method subclasses `TournamentOptimizer` and implements only `propose` (its own steps, e.g. summarize,
cluster, analyze, synthesize). Selection, finals, guardrails, persistence, budget handling and reporting
live here once.

Pairs (the reference schedule, `schedule.py`): the training pool is shuffled once (seeded). Round r's batch is
`batch` pairs from the cursor; its finals use `resample` pairs drawn (seeded) from this round's batch plus the
next `batch` pairs; the cursor then advances by 2 x batch, so the finals' new pairs never become a training
batch and the incumbent is never re-scored on the rollouts it won on. The pool wraps around.

Budget: a round starts only when its worst-case rollouts fit what is left (`schedule.round_rollouts`); a
round cut short by a token or call cap is still recorded in the run log, marked incomplete.
"""

from __future__ import annotations

import asyncio
import functools
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from clue.bench.data.records import Pair
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.rollouts import Rollout, rollout_id
from clue.errors import BadInputError
from clue.evolve.budget import budget_error, unwrap
from clue.evolve.feedback import FeedbackPolicy, task_query
from clue.evolve.guardrails import LeakChecker, check_candidate
from clue.evolve.harness import Harness, PromptScore, score_rollouts
from clue.evolve.lineage import build_lineage, round_progress
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.replies import Replies, all_failed
from clue.evolve.schedule import finals_keys, pool_slice, round_rollouts
from clue.evolve.state import (
    AnalysisRecord,
    CandidateRecord,
    EditRecord,
    PromptRecord,
    RoundState,
    RunState,
    ScoreRecord,
    load_state,
)
from clue.evolve.summarize import ExampleLog, build_logs, dataset_names
from clue.evolve.synthesize import CLUE_SYNTHESIZER, Synthesis, apply_edits, synthesize
from clue.evolve.watch import Reporter, round_report
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

    async def fill(self, results: dict[str, ResultT], jobs: dict[str, Callable[[], Awaitable[ResultT]]]) -> None:
        """Run, concurrently, the jobs whose key has no result yet; store each result and save the state as it
        lands, so a crash loses only the jobs still running and a resume starts just those."""

        async def one(key: str, make: Callable[[], Awaitable[ResultT]]) -> None:
            results[key] = await make()
            self.save(lineage=False)

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
            self._record_cut_round(run)
        run.state.stopped_by = None if stopped == "finished" else stopped
        run.state.finished = stopped == "finished"
        run.state.step = "finished" if run.state.finished else f"stopped ({stopped})"
        run.save()
        run.write_best()
        run.recorder.record_stop(run.state.stopped_by)
        run.state.replies.check_candidates(self.name)
        return OptimizationResult(best=run.state.prompt(run.state.base), stopped_by=stopped,
                                  replies=run.state.replies)

    async def _round(self, run: RunContext) -> None:
        state, settings = run.state, run.settings
        rs = state.open_round
        opened = rs is not None
        if rs is None:
            rs = RoundState(index=state.completed_rounds, base_hash=state.base,
                            batch=pool_slice(state.pool, state.cursor, settings.batch))
        # Refused before anything is spent or recorded: a round starts only when it can finish.
        started = run.harness.meter.start_unit(f"round {rs.index + 1}", run.worst_rollouts(rs))
        if not opened:
            state.rounds.append(rs)
        await run.step(rs, "baseline", lambda: self._baseline(run, rs))
        await self.propose(run, rs)
        await run.step(rs, "tournament", lambda: self._tournament(run, rs))
        await run.step(rs, "finals", lambda: self._finals(run, rs))
        run.harness.meter.finish_unit(started)
        self.reporter.round_finished(round_report(run.state, rs, run.settings.rounds))

    @staticmethod
    def _record_cut_round(run: RunContext) -> None:
        """A round a token or call cap stopped part way still appears in the run log, marked incomplete."""
        rs = run.state.open_round
        if rs is not None and rs.done:
            progress = round_progress(run.state, rs, run.harness.meter.summary())
            run.recorder.record_progress(progress.model_copy(update={"complete": False}))

    async def _baseline(self, run: RunContext, rs: RoundState) -> None:
        base = run.state.prompt(rs.base_hash)
        results = await run.evaluate_many(rs, [base], run.batch_pairs(rs), "baseline")
        rs.base_score = ScoreRecord.of(score_rollouts(base, results[base.hash]), base.name)

    async def _tournament(self, run: RunContext, rs: RoundState) -> None:
        base = run.state.prompt(rs.base_hash)
        entrants = [base]
        entrants_named = [(base.name, base)]
        for c in rs.sorted_candidates():
            if c.rejected is not None or c.hash is None:
                continue
            twin = next((name for name, p in entrants_named if p.hash == c.hash), None)
            if twin is not None:  # named by entry order, whichever twin was drafted first
                c.rejected = f"same text as {twin}"
                self.reporter.rejected(self.name, rs.index + 1, c.name, c.rejected)
                continue
            record = run.state.prompts[c.hash]
            if record.round == rs.index:  # drafted this round: the prompt carries its first entrant's name
                record.name = c.name
            entrants.append(run.state.prompt(c.hash))
            entrants_named.append((c.name, entrants[-1]))
        results = await run.evaluate_many(rs, entrants, run.batch_pairs(rs), "tournament")
        scores = [score_rollouts(p, results[p.hash]) for p in entrants]
        rs.tournament = [ScoreRecord.of(s, p.name) for s, p in zip(scores, entrants, strict=True)]
        rs.finalists = select_top(scores, run.settings.top, run.settings.tie_break)

    async def _finals(self, run: RunContext, rs: RoundState) -> None:
        state, settings = run.state, run.settings
        # Entry order (base first, then candidates by index) decides incumbent-style ties in the finals too.
        entry = [s.prompt_hash for s in rs.tournament]
        ordered = sorted(rs.finalists, key=lambda h: entry.index(h) if h in entry else len(entry))
        finalists = [state.prompt(h) for h in ordered]
        winner = rs.finalists[0]
        if len(finalists) > 1:
            resampled, new = finals_keys(state.pool, state.cursor, settings.batch, settings.resample,
                                         settings.seed, rs.index)
            rs.finals_pairs = resampled + new
            results = await run.evaluate_many(rs, finalists, [run.pairs[k] for k in rs.finals_pairs], "finals")
            scores = [score_rollouts(p, results[p.hash]) for p in finalists]
            rs.finals = [ScoreRecord.of(s, p.name) for s, p in zip(scores, finalists, strict=True)]
            winner = rank(scores, settings.tie_break)[0].prompt_hash
        # One atomic save (made by run.step) closes the round: winner, new base, cursor.
        rs.winner = winner
        state.base = winner
        state.completed_rounds = rs.index + 1
        state.cursor += settings.advance
        run.write_best()
        run.recorder.record_progress(round_progress(state, rs, run.harness.meter.summary()))

    async def synthesize_candidates(self, run: RunContext, rs: RoundState,
                                    analyses_for: Callable[[int], list[AnalysisRecord]],
                                    instructions: str = CLUE_SYNTHESIZER) -> None:
        """Draft `settings.candidates` candidates concurrently (repeat index = draft index) and vet them."""
        base = run.state.prompt(rs.base_hash)
        settings = run.settings

        async def draft(index: int) -> CandidateRecord:
            analyses = analyses_for(index)
            if any(a.recommendations or a.failure_analysis or a.success_analysis for a in analyses):
                drafted = await synthesize(run.llm, base, analyses, index=index, instructions=instructions,
                                           mode=settings.synthesis_mode, max_edits=settings.max_edits,
                                           replies=run.replies, max_tokens=settings.synthesis_max_tokens)
            else:
                drafted = Synthesis(error="no analysis produced anything to act on",
                                    unusable=all_failed([a.mode for a in analyses]))
            run.state.replies.candidate(usable=not drafted.unusable)
            return self.vet(run, rs, index, drafted, [a.key for a in analyses])

        run.check_budget()
        await run.fill(rs.candidates, {str(i): functools.partial(draft, i) for i in range(settings.candidates)})

    def vet(self, run: RunContext, rs: RoundState, index: int, drafted: Synthesis,
            sources: list[str]) -> CandidateRecord:
        """Build the candidate's text and apply the guardrails; a rejected candidate keeps its reason and never
        runs. With guardrails off only an unusable reply or an unchanged prompt is rejected."""
        base = run.state.prompt(rs.base_hash)
        settings = run.settings
        name = f"{self.name}-r{rs.index + 1}-c{index + 1}"
        record = CandidateRecord(index=index, name=name, parent=base.hash,
                                 edits=[EditRecord(**e.model_dump()) for e in drafted.edits],
                                 rationale=drafted.rationale, sources=sources, notes=list(drafted.notes))
        if drafted.error is not None and not (drafted.truncated and settings.guardrails):
            record.rejected = f"no usable candidate: {drafted.error}"
        else:
            if drafted.text is not None:
                text, notes = drafted.text, ["whole prompt rewritten"]
            else:
                text, notes = apply_edits(base.text, drafted.edits)
            prompt = ExtractionPrompt(record.name, text)
            record.text, record.hash = text, prompt.hash
            record.notes += notes
            if settings.guardrails:
                record.rejected = check_candidate(text, base_text=base.text, truncated=drafted.truncated,
                                                  max_chars=settings.max_prompt_chars, leaks=run.leaks)
            if record.rejected is None and prompt.hash == base.hash:
                record.rejected = "no change to the base prompt"
            if record.rejected is None:
                run.state.remember(PromptRecord.of(prompt, parent=base.hash, round=rs.index))
        if record.rejected is not None:
            self.reporter.rejected(self.name, rs.index + 1, record.name, record.rejected)
        return record
