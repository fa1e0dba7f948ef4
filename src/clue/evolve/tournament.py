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

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from clue.bench.data.records import Pair
from clue.evolve.budget import budget_error, unwrap
from clue.evolve.guardrails import check_candidate
from clue.evolve.harness import Harness, score_rollouts
from clue.evolve.lineage import round_progress
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.replies import all_failed
from clue.evolve.schedule import finals_keys, pool_slice
from clue.evolve.state import (
    AnalysisRecord,
    CandidateRecord,
    EditRecord,
    RoundState,
    ScoreRecord,
)
from clue.evolve.synthesize import CLUE_SYNTHESIZER, Synthesis, apply_edits, synthesize
from clue.evolve.tournament_run import RunContext, rank, select_top
from clue.evolve.watch import Reporter, round_report
from clue.memory.prompts import ExtractionPrompt


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
        await run.fill(rs, "candidates", {str(i): functools.partial(draft, i) for i in range(settings.candidates)})

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
            entered = record.prompt_record(rs.index)
            if entered is not None:
                run.state.remember(entered)
        if record.rejected is not None:
            self.reporter.rejected(self.name, rs.index + 1, record.name, record.rejected)
        return record
