"""A tournament method's rounds (clusters -> analyses -> candidates -> tournament -> finals) as the one typed
lineage, each candidate with its verdict and the reason for it. `tournament_lineage` assembles it from typed
rounds and candidates (CluE and MemEvolve build those from their state); `legacy_tournament_lineage` reads the
rounds layout that clue wrote to `lineage.json` before the typed lineage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

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


class Candidate(BaseModel):
    """One candidate of a round as its method saw it, before the verdict is drawn."""

    name: str
    hash: str | None
    diff: str = ""
    tournament: StageScore | None = None
    finals: StageScore | None = None
    details: TournamentDetails = TournamentDetails()


class RoundInput(BaseModel):
    record: RoundRecord
    base_batch: StageScore | None = None  # the base prompt on the round's batch
    candidates: list[Candidate] = []


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def verdict(c: Candidate, rs: RoundRecord, names: dict[str, str]) -> tuple[EntryStatus, str]:
    """A candidate's status in its round, and why."""
    if c.details.rejected:
        return "rejected", f"rejected before the tournament: {c.details.rejected}"
    tournament = c.tournament.accuracy if c.tournament else None
    finals = c.finals.accuracy if c.finals else None
    if c.tournament is None:
        return "pending", f"round stopped at step {rs.step_reached} before it was scored"
    if rs.winner_hash is not None and rs.winner_hash == c.hash:
        if c.finals is None:
            return "winner", f"won the round as the only finalist (tournament {_pct(tournament)})"
        return "winner", f"won the finals ({_pct(finals)})"
    if c.details.finalist:
        if rs.winner_hash is None:
            return "finals", f"finalist (tournament {_pct(tournament)}); finals not run yet"
        best = rs.finals.get(rs.winner_hash)
        winner = names.get(rs.winner_hash, rs.winner_name or rs.winner_hash[:8])
        return "finals", (f"lost the finals to {winner}: {_pct(finals)} vs "
                          f"{_pct(best.accuracy if best else None)}")
    return "tournament", f"not among the {len(rs.finalists)} finalists of the tournament ({_pct(tournament)})"


def _entry(c: Candidate, rs: RoundRecord, names: dict[str, str]) -> LineageEntry:
    status, reason = verdict(c, rs, names)
    scores = {stage: s for stage, s in (("tournament", c.tournament), ("finals", c.finals)) if s is not None}
    return LineageEntry(id=f"r{rs.round}-{c.name}", hash=c.hash, name=c.name, parents=[rs.base_hash],
                        origin=Origin(round=rs.round), status=status, reason=reason, diff=c.diff, scores=scores,
                        details=c.details)


def tournament_lineage(method: str, seed_hash: str | None, best_hash: str | None,
                       rounds: list[RoundInput]) -> Lineage:
    names = {r.record.base_hash: r.record.base_name for r in rounds}
    for r in rounds:
        names.update({c.hash: c.name for c in r.candidates if c.hash and not c.details.rejected})
    first = rounds[0].record.base_name if rounds else names.get(seed_hash or "", "seed")
    seed = LineageEntry(id="seed", hash=seed_hash, name=first, status="seed", reason="the seed prompt",
                        details=TournamentDetails())
    entries = [seed]
    for r in rounds:
        record = r.record
        base = next((e for e in reversed(entries) if e.hash == record.base_hash
                     and e.status in ("seed", "winner")), seed)
        base_scores = {"batch": r.base_batch, "tournament": record.tournament.get(record.base_hash),
                       "finals": record.finals.get(record.base_hash)}
        base.scores.update({f"r{record.round} {stage}": s for stage, s in base_scores.items() if s is not None})
        entries += [_entry(c, record, names) for c in r.candidates]
    return Lineage(method=method, seed_hash=seed_hash, best_hash=best_hash, entries=entries,
                   rounds=[r.record for r in rounds])


# -- the rounds layout of `lineage.json` before the typed lineage ------------------------------------------
def _score(raw: dict[str, Any] | None) -> StageScore | None:
    if not raw:
        return None
    return StageScore(accuracy=raw.get("accuracy"), n=raw.get("n"), tokens=raw.get("tokens"),
                      left_out=int(raw.get("left_out") or 0))


def _scores(raw: list[dict[str, Any]]) -> dict[str, StageScore]:
    return {s["prompt_hash"]: score for s in raw if (score := _score(s)) is not None}


def _legacy_round(rs: dict[str, Any]) -> RoundInput:
    winner = rs.get("winner") or {}
    record = RoundRecord(
        round=rs["round"], base_hash=rs["base"]["hash"], base_name=rs["base"]["name"],
        step_reached=rs.get("step_reached", "start"), batch=list(rs.get("batch", [])),
        clusters=[Cluster.model_validate(c) for c in rs.get("clusters", [])],
        cluster_repairs=list(rs.get("cluster_repairs", [])),
        analyses=[Analysis.model_validate(a) for a in rs.get("analyses", [])],
        tournament=_scores(rs.get("tournament", [])), finals=_scores(rs.get("finals", [])),
        finalists=list(rs.get("finalists", [])), finals_pairs=list(rs.get("finals_pairs", [])),
        winner_hash=winner.get("hash"), winner_name=winner.get("name"),
        new_rollouts=int(rs.get("new_rollouts", 0)), reused_rollouts=int(rs.get("reused_rollouts", 0)))
    candidates = [Candidate(
        name=c["name"], hash=c.get("hash"), diff=c.get("diff") or "", tournament=_score(c.get("tournament")),
        finals=_score(c.get("finals")),
        details=TournamentDetails(rejected=c.get("rejected"), finalist=bool(c.get("finalist")),
                                  rationale=c.get("rationale", ""), sources=list(c.get("sources", [])),
                                  edits=list(c.get("edits", [])), notes=list(c.get("notes", []))))
        for c in rs.get("candidates", [])]
    return RoundInput(record=record, base_batch=_score((rs.get("base") or {}).get("batch_score")),
                      candidates=candidates)


def legacy_tournament_lineage(raw: dict[str, Any]) -> Lineage:
    return tournament_lineage(str(raw.get("method") or ""), raw.get("seed"), (raw.get("best") or {}).get("hash"),
                              [_legacy_round(rs) for rs in raw.get("rounds", [])])
