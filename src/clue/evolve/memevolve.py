"""MemEvolve-style baseline (`--method memevolve`): each candidate comes from its own global analysis of the
whole batch (no summaries, no clustering). Tournament and finals are CluE's (tournament.py).
"""

from __future__ import annotations

import functools

from clue.evolve.analyze import Group, analyze_group
from clue.evolve.state import AnalysisRecord, RoundState
from clue.evolve.tournament import RunContext, TournamentOptimizer


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

        def whole_batch(index: int) -> Group:
            return Group(global_key(index), "whole batch", "every example of this round's batch", logs)

        await run.fill(rs.analyses, {
            global_key(i): functools.partial(analyze_group, run.llm, whole_batch(i), run.settings, repeat=i)
            for i in range(run.settings.candidates)})

    async def _synthesize(self, run: RunContext, rs: RoundState) -> None:
        def own(index: int) -> list[AnalysisRecord]:
            found = rs.analyses.get(global_key(index))
            return [found] if found is not None else []

        await self.synthesize_candidates(run, rs, own)
