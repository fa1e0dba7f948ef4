"""What a tournament run records: its typed lineage (per round, clusters -> analyses -> candidates with diffs
-> scores and verdicts) and one progress point per finished round."""

from __future__ import annotations

import difflib

from clue.bench.run.lineage import Analysis, Cluster, Edit, Lineage, RoundRecord, StageScore, TournamentDetails
from clue.bench.run.lineage_tournament import Candidate, RoundInput, tournament_lineage
from clue.bench.run.record import RoundProgress
from clue.evolve.state import CandidateRecord, PromptRecord, RoundState, RunState, ScoreRecord


def unified_diff(parent: str, child: str, parent_name: str = "parent", child_name: str = "candidate") -> str:
    return "".join(difflib.unified_diff(parent.splitlines(keepends=True), child.splitlines(keepends=True),
                                        fromfile=parent_name, tofile=child_name))


def _score(scores: list[ScoreRecord], prompt_hash: str | None) -> StageScore | None:
    found = next((s for s in scores if s.prompt_hash == prompt_hash), None)
    return _stage(found) if found else None


def _stage(s: ScoreRecord) -> StageScore:
    return StageScore(accuracy=s.accuracy, n=s.n, tokens=s.tokens, left_out=s.left_out)


def _candidate(rs: RoundState, c: CandidateRecord, base: PromptRecord) -> Candidate:
    details = TournamentDetails(
        rejected=c.rejected, finalist=c.run_hash is not None and c.run_hash in rs.finalists,
        rationale=c.rationale, sources=c.sources, notes=c.notes,
        edits=[Edit(section=e.section, operation=e.operation, text=e.text) for e in c.edits])
    return Candidate(name=c.name, hash=c.hash,
                     diff=unified_diff(base.text, c.text, base.name, c.name) if c.text is not None else "",
                     tournament=_score(rs.tournament, c.run_hash), finals=_score(rs.finals, c.run_hash),
                     details=details)


def _round(state: RunState, rs: RoundState) -> RoundInput:
    base = state.prompts[rs.base_hash]
    winner = state.prompts.get(rs.winner) if rs.winner else None
    record = RoundRecord(
        round=rs.index + 1, base_hash=base.hash, base_name=base.name,
        step_reached="complete" if rs.complete else (rs.done[-1] if rs.done else "start"), batch=rs.batch,
        clusters=[Cluster(**c.model_dump()) for c in rs.clusters], cluster_repairs=rs.cluster_notes,
        analyses=[Analysis(**rs.analyses[k].model_dump()) for k in sorted(rs.analyses)],
        tournament={s.prompt_hash: _stage(s) for s in rs.tournament},
        finals={s.prompt_hash: _stage(s) for s in rs.finals}, finalists=rs.finalists,
        finals_pairs=rs.finals_pairs,
        winner_hash=winner.hash if winner else None, winner_name=winner.name if winner else None,
        new_rollouts=rs.new_rollouts, reused_rollouts=rs.reused_rollouts)
    return RoundInput(record=record, base_batch=_stage(rs.base_score) if rs.base_score else None,
                      candidates=[_candidate(rs, c, base) for c in rs.sorted_candidates()])


def build_lineage(state: RunState) -> Lineage:
    """The typed lineage of a tournament run so far: the seed, then each round's candidates and verdicts."""
    return tournament_lineage(state.method, state.seed_hash, state.prompts[state.base].hash,
                              [_round(state, rs) for rs in state.rounds])


def round_progress(state: RunState, rs: RoundState, budget: dict[str, int | None]) -> RoundProgress:
    """After a tournament round: what was spent, which prompt is best, and every entrant's scores."""
    best = state.prompts[state.base]
    finals = {s.prompt_hash: s.accuracy for s in rs.finals if s.accuracy is not None}
    tournament = {s.prompt_hash: s.accuracy for s in rs.tournament if s.accuracy is not None}
    left_out = sum(s.left_out for s in (*rs.tournament, *rs.finals))
    return RoundProgress(round=rs.index + 1, rollouts_spent=int(budget.get("rollouts_spent") or 0),
                         tokens_spent=int(budget.get("tokens_spent") or 0), best_hash=best.hash,
                         best_name=best.name, best_score=finals.get(best.hash, tournament.get(best.hash)),
                         tournament=tournament, finals=finals, left_out=left_out,
                         unusable_replies=dict(state.replies.unusable))
