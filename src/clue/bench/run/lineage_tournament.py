"""The tournament methods' `lineage.json` (rounds: clusters -> analyses -> candidates -> tournament -> finals)
read into the one typed lineage, each candidate with its verdict and the reason for it."""

from __future__ import annotations

from typing import Any

from clue.bench.run.lineage import (
    Analysis,
    Cluster,
    EntryStatus,
    Lineage,
    LineageEntry,
    Origin,
    RoundRecord,
    StageScore,
    TournamentDetails,
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _score(raw: dict[str, Any] | None) -> StageScore | None:
    if not raw:
        return None
    return StageScore(accuracy=raw.get("accuracy"), n=raw.get("n"), tokens=raw.get("tokens"),
                      left_out=int(raw.get("left_out") or 0))


def _scores(raw: list[dict[str, Any]]) -> dict[str, StageScore]:
    out: dict[str, StageScore] = {}
    for s in raw:
        score = _score(s)
        if score is not None:
            out[s["prompt_hash"]] = score
    return out


def _round(rs: dict[str, Any]) -> RoundRecord:
    winner = rs.get("winner") or {}
    return RoundRecord(
        round=rs["round"], base_hash=rs["base"]["hash"], base_name=rs["base"]["name"],
        step_reached=rs.get("step_reached", "start"), batch=list(rs.get("batch", [])),
        clusters=[Cluster.model_validate(c) for c in rs.get("clusters", [])],
        cluster_repairs=list(rs.get("cluster_repairs", [])),
        analyses=[Analysis.model_validate(a) for a in rs.get("analyses", [])],
        tournament=_scores(rs.get("tournament", [])), finals=_scores(rs.get("finals", [])),
        finalists=list(rs.get("finalists", [])), winner_hash=winner.get("hash"), winner_name=winner.get("name"),
        new_rollouts=int(rs.get("new_rollouts", 0)), reused_rollouts=int(rs.get("reused_rollouts", 0)))


def verdict(c: dict[str, Any], rs: RoundRecord, names: dict[str, str]) -> tuple[EntryStatus, str]:
    """A candidate's status in its round, and why."""
    if c.get("rejected"):
        return "rejected", f"rejected before the tournament: {c['rejected']}"
    tournament = (_score(c.get("tournament")) or StageScore()).accuracy
    finals = (_score(c.get("finals")) or StageScore()).accuracy
    if c.get("tournament") is None:
        return "pending", f"round stopped at step {rs.step_reached} before it was scored"
    if rs.winner_hash is not None and rs.winner_hash == c.get("hash"):
        if c.get("finals") is None:
            return "winner", f"won the round as the only finalist (tournament {_pct(tournament)})"
        return "winner", f"won the finals ({_pct(finals)})"
    if c.get("finalist"):
        if rs.winner_hash is None:
            return "finals", f"finalist (tournament {_pct(tournament)}); finals not run yet"
        best = rs.finals.get(rs.winner_hash)
        winner = names.get(rs.winner_hash, rs.winner_name or rs.winner_hash[:8])
        return "finals", (f"lost the finals to {winner}: {_pct(finals)} vs "
                          f"{_pct(best.accuracy if best else None)}")
    return "tournament", f"not among the {len(rs.finalists)} finalists of the tournament ({_pct(tournament)})"


def _candidate(c: dict[str, Any], rs: RoundRecord, names: dict[str, str]) -> LineageEntry:
    status, reason = verdict(c, rs, names)
    scores = {stage: s for stage in ("tournament", "finals") if (s := _score(c.get(stage))) is not None}
    details = TournamentDetails(rationale=c.get("rationale", ""), sources=list(c.get("sources", [])),
                                edits=list(c.get("edits", [])), notes=list(c.get("notes", [])))
    return LineageEntry(id=f"r{rs.round}-{c['name']}", hash=c.get("hash"), name=c["name"], parents=[rs.base_hash],
                        origin=Origin(round=rs.round), status=status, reason=reason, diff=c.get("diff") or "",
                        scores=scores, details=details)


def tournament_lineage(raw: dict[str, Any]) -> Lineage:
    raw_rounds = raw.get("rounds", [])
    rounds = [_round(rs) for rs in raw_rounds]
    seed_hash = raw.get("seed")
    names = {r.base_hash: r.base_name for r in rounds}
    for rs in raw_rounds:
        names.update({c["hash"]: c["name"] for c in rs.get("candidates", [])
                      if c.get("hash") and not c.get("rejected")})
    seed = LineageEntry(id="seed", hash=seed_hash, name=rounds[0].base_name if rounds else names.get(seed_hash or "",
                                                                                                    "seed"),
                        status="seed", reason="the seed prompt", details=TournamentDetails())
    entries = [seed]
    for record, rs in zip(rounds, raw_rounds, strict=True):
        base = next((e for e in reversed(entries) if e.hash == record.base_hash
                     and e.status in ("seed", "winner")), seed)
        base_scores = {"batch": _score((rs.get("base") or {}).get("batch_score")),
                       "tournament": record.tournament.get(record.base_hash),
                       "finals": record.finals.get(record.base_hash)}
        base.scores.update({f"r{record.round} {stage}": s for stage, s in base_scores.items() if s is not None})
        entries += [_candidate(c, record, names) for c in rs.get("candidates", [])]
    return Lineage(method=str(raw.get("method") or ""), seed_hash=seed_hash,
                   best_hash=(raw.get("best") or {}).get("hash"), entries=entries, rounds=rounds)
