"""MemEvolve-style baseline (`--method memevolve`), as the study runs it: each candidate comes from its own
independent global analysis of the whole batch (key failure patterns, key success patterns, 3-7 prompt
change recommendations, overfitting risks), then a plain rewrite of the prompt from that one report. No
summaries, no clusters, no taxonomy, no conflict resolution. Tournament and finals are shared
(tournament.py); the analyst's tool loop is shared (analyze.py) but its brief and the generator's
instructions are MemEvolve's own.
"""

from __future__ import annotations

import functools

from clue.evolve.analyze import AnalystBrief, Group, analyze_group
from clue.evolve.state import AnalysisRecord, RoundState
from clue.evolve.tournament import TournamentOptimizer
from clue.evolve.tournament_run import RunContext

GLOBAL_BRIEF = AnalystBrief(
    role="You analyze a batch of memory-extraction examples. An extractor turned each source conversation "
         "into a memory under the prompt shown below; a solver then used the memory on a target query. "
         "Diagnose the systematic failure modes and success patterns across the batch. Improve only the "
         "extraction prompt: no changes to the system around it, no online memory updates.",
    report="Your report, concise but structured: key failure patterns (in failure_analysis), key success "
           "patterns (in success_analysis), 3-7 prompt change recommendations, and risks: where following "
           "these recommendations could overfit this batch.",
    min_recommendations=3, max_recommendations=7, risks=True)

MEMEVOLVE_GENERATOR = """You write a new system prompt for memory extraction from one analysis report. \
Produce one candidate that improves extraction quality; change only the extraction prompt itself."""


def global_key(index: int) -> str:
    return f"global-{index + 1}"


class MemEvolveOptimizer(TournamentOptimizer):
    name = "memevolve"

    async def propose(self, run: RunContext, rs: RoundState) -> None:
        await run.step(rs, "analyze", lambda: self._analyze(run, rs))
        await run.step(rs, "synthesize", lambda: self._synthesize(run, rs))

    async def _analyze(self, run: RunContext, rs: RoundState) -> None:
        """N independent analyses of the whole batch; analysis i samples with repeat index i."""
        logs = await run.logs(rs)
        run.check_budget()
        base = run.state.prompt(rs.base_hash)

        def whole_batch(index: int) -> Group:
            return Group(global_key(index), "whole batch", "every example of this round's batch", logs)

        await run.fill(rs, "analyses", {
            global_key(i): functools.partial(analyze_group, run.llm, whole_batch(i), base, run.settings,
                                             brief=GLOBAL_BRIEF, repeat=i, replies=run.replies)
            for i in range(run.settings.candidates)})

    async def _synthesize(self, run: RunContext, rs: RoundState) -> None:
        def own(index: int) -> list[AnalysisRecord]:
            found = rs.analyses.get(global_key(index))
            return [found] if found is not None else []

        await self.synthesize_candidates(run, rs, own, MEMEVOLVE_GENERATOR)
