"""What a tournament run records: its lineage (per round, clusters -> analyses -> recommendations ->
candidates with diffs -> scores) and one progress point per finished round."""

from __future__ import annotations

import difflib
from typing import Any

from clue.bench.run.record import RoundProgress
from clue.evolve.state import RoundState, RunState, ScoreRecord


def unified_diff(parent: str, child: str, parent_name: str = "parent", child_name: str = "candidate") -> str:
    return "".join(difflib.unified_diff(parent.splitlines(keepends=True), child.splitlines(keepends=True),
                                        fromfile=parent_name, tofile=child_name))


def _score(scores: list[ScoreRecord], prompt_hash: str | None) -> dict[str, Any] | None:
    found = next((s for s in scores if s.prompt_hash == prompt_hash), None)
    return found.model_dump(exclude={"prompt_hash", "name"}) if found else None


def round_lineage(state: RunState, rs: RoundState) -> dict[str, Any]:
    base = state.prompts[rs.base_hash]
    candidates = []
    for c in rs.sorted_candidates():
        candidates.append({
            "name": c.name, "hash": c.hash, "parent": c.parent, "sources": c.sources,
            "rationale": c.rationale,
            "edits": [e.model_dump() for e in c.edits], "rejected": c.rejected, "notes": c.notes,
            "diff": unified_diff(base.text, c.text, base.name, c.name) if c.text is not None else None,
            "tournament": _score(rs.tournament, c.run_hash), "finals": _score(rs.finals, c.run_hash),
            "finalist": c.run_hash is not None and c.run_hash in rs.finalists,
        })
    winner = state.prompts.get(rs.winner) if rs.winner else None
    return {
        "round": rs.index + 1,
        "step_reached": "complete" if rs.complete else (rs.done[-1] if rs.done else "start"),
        "base": {"name": base.name, "hash": base.hash, "batch_score": rs.base_score.model_dump()
                 if rs.base_score else None, "tournament": _score(rs.tournament, base.hash),
                 "finals": _score(rs.finals, base.hash)},
        "batch": rs.batch,
        "clusters": [{**c.model_dump(), "size": len(c.members)} for c in rs.clusters],
        "cluster_repairs": rs.cluster_notes,
        "analyses": [a.model_dump() for a in (rs.analyses[k] for k in sorted(rs.analyses))],
        "recommendations": {k: rs.analyses[k].recommendations for k in sorted(rs.analyses)},
        "candidates": candidates,
        "tournament": [s.model_dump() for s in rs.tournament],
        "finalists": rs.finalists,
        "finals_pairs": rs.finals_pairs,
        "finals": [s.model_dump() for s in rs.finals],
        "winner": {"name": winner.name, "hash": winner.hash} if winner else None,
        "new_rollouts": rs.new_rollouts,
        "reused_rollouts": rs.reused_rollouts,
    }


def build_lineage(state: RunState) -> dict[str, Any]:
    best = state.prompts[state.base]
    return {"method": state.method, "seed": state.seed_hash, "best": {"name": best.name, "hash": best.hash},
            "completed_rounds": state.completed_rounds, "stopped_by": state.stopped_by,
            "rounds": [round_lineage(state, rs) for rs in state.rounds]}


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
