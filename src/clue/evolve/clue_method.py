"""CluE (`--method clue`): summarize each example's scenario, cluster against a persistent pool, analyze each
cluster alone, synthesize N candidates across clusters; the tournament and finals are shared (tournament.py).
"""

from __future__ import annotations

import functools

from clue.evolve.analyze import analyze_group, groups_from_clusters
from clue.evolve.cluster import cluster_examples, update_pool
from clue.evolve.state import RoundState
from clue.evolve.summarize import summarize_example
from clue.evolve.tournament import TournamentOptimizer
from clue.evolve.tournament_run import RunContext


class ClueOptimizer(TournamentOptimizer):
    name = "clue"

    async def propose(self, run: RunContext, rs: RoundState) -> None:
        await run.step(rs, "summarize", lambda: self._summarize(run, rs))
        await run.step(rs, "cluster", lambda: self._cluster(run, rs))
        await run.step(rs, "analyze", lambda: self._analyze(run, rs))
        await run.step(rs, "synthesize", lambda: self._synthesize(run, rs))

    async def _summarize(self, run: RunContext, rs: RoundState) -> None:
        """One call per example, concurrently; each summary is saved as soon as it arrives."""
        logs = await run.logs(rs)
        run.check_budget()

        await run.fill(rs, "summaries", {log.id: functools.partial(summarize_example, run.llm, log, run.names,
                                                                   run.settings.summary_chars, run.replies)
                                      for log in logs})

    async def _cluster(self, run: RunContext, rs: RoundState) -> None:
        logs = await run.logs(rs)
        run.check_budget()
        settings = run.settings
        result = await cluster_examples(run.llm, logs, run.state.cluster_pool,
                                        max_clusters=settings.max_clusters,
                                        new_id=run.state.new_cluster_id, repair=settings.cluster_repair,
                                        replies=run.replies)
        rs.clusters = result.clusters
        rs.cluster_notes = result.notes
        run.state.cluster_pool = update_pool(run.state.cluster_pool, result.clusters, rs.index,
                                             cap=2 * settings.max_clusters)

    async def _analyze(self, run: RunContext, rs: RoundState) -> None:
        """Each cluster alone, concurrently; each analysis is saved as soon as it is done."""
        logs = await run.logs(rs)
        run.check_budget()

        base = run.state.prompt(rs.base_hash)
        await run.fill(rs, "analyses", {group.key: functools.partial(analyze_group, run.llm, group, base,
                                                                  run.settings, replies=run.replies)
                                     for group in groups_from_clusters(logs, rs.clusters) if group.logs})

    async def _synthesize(self, run: RunContext, rs: RoundState) -> None:
        analyses = [rs.analyses[c.id] for c in rs.clusters if c.id in rs.analyses]
        await self.synthesize_candidates(run, rs, lambda index: analyses)
