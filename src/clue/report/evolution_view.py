"""The Evolution section: best-so-far against rollouts and tokens per method, and each round's scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clue.bench.run.lineage import StageScore
from clue.bench.run.record import RoundProgress
from clue.report import plots
from clue.report.results_view import RoleCost, role_costs
from clue.report.rundata import RunData


@dataclass
class ScoreLine:
    name: str
    tournament: float | None
    finals: float | None
    status: str  # base | winner | finalist | ""


@dataclass
class RoundRow:
    round: int
    rollouts_spent: int | None
    tokens_spent: int | None
    new_rollouts: int | None
    reused_rollouts: int | None
    best_name: str
    best_score: float | None
    lines: list[ScoreLine] = field(default_factory=list)
    costs: list[RoleCost] = field(default_factory=list)  # per role, spent in this round (when the log says)


def round_costs(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> list[RoleCost]:
    """What each role spent between two cumulative ledger snapshots."""
    earlier = {c.role: c for c in role_costs(before)}
    out = []
    for now in role_costs(after):
        was = earlier.get(now.role, RoleCost(now.role, 0, 0, 0, 0, 0, 0.0))
        spent = RoleCost(now.role, now.calls - was.calls, now.cached - was.cached, now.failed - was.failed,
                         now.prompt_tokens - was.prompt_tokens, now.completion_tokens - was.completion_tokens,
                         now.latency_s - was.latency_s)
        if spent.calls:
            out.append(spent)
    return out


def progress_of(run: RunData) -> list[RoundProgress]:
    """The run log's progress; for a tournament run whose log has none, rebuilt from its lineage (rollouts
    counted from each round's new rollouts; tokens unknown, left at 0 and not plotted)."""
    if run.log.evolution is not None and run.log.evolution.progress:
        return list(run.log.evolution.progress)
    if run.lineage is None:
        return []
    out: list[RoundProgress] = []
    spent = 0
    for rs in run.lineage.rounds:
        if rs.winner_hash is None:
            break
        spent += rs.new_rollouts
        chosen = rs.finals.get(rs.winner_hash) or rs.tournament.get(rs.winner_hash)
        out.append(RoundProgress(round=rs.round, rollouts_spent=spent, tokens_spent=0, best_hash=rs.winner_hash,
                                 best_name=rs.winner_name or rs.winner_hash[:8],
                                 best_score=chosen.accuracy if chosen else None,
                                 tournament=_accuracies(rs.tournament), finals=_accuracies(rs.finals)))
    return out


def _accuracies(scores: dict[str, StageScore]) -> dict[str, float]:
    return {h: s.accuracy for h, s in scores.items() if s.accuracy is not None}


def _best_so_far(progress: list[RoundProgress], tokens: bool) -> plots.Series | None:
    xs: list[float] = []
    ys: list[float] = []
    best: float | None = None
    for p in progress:
        if p.best_score is None or (tokens and p.tokens_spent <= 0):
            continue
        best = p.best_score if best is None else max(best, p.best_score)
        xs.append(float(p.tokens_spent if tokens else p.rollouts_spent))
        ys.append(best)
    return plots.Series("", xs, ys) if xs else None


def round_rows(run: RunData, progress: list[RoundProgress]) -> list[RoundRow]:
    names = run.prompt_names()
    lineage_rounds = {rs.round: rs for rs in run.lineage.rounds} if run.lineage is not None else {}
    rows = []
    previous: dict[str, dict[str, float]] = {}
    for p in progress:
        rs = lineage_rounds.get(p.round)
        base_hash = rs.base_hash if rs is not None else None
        finalists = set(rs.finalists) if rs is not None else set()
        lines = []
        for prompt_hash in dict.fromkeys([*p.tournament, *p.finals]):
            status = ("winner" if prompt_hash == p.best_hash else "finalist" if prompt_hash in finalists
                      else "base" if prompt_hash == base_hash else "")
            lines.append(ScoreLine(names.get(prompt_hash, prompt_hash[:12]), p.tournament.get(prompt_hash),
                                   p.finals.get(prompt_hash), status))
        costs = round_costs(previous, p.usage) if p.usage else []
        previous = p.usage or previous
        rows.append(RoundRow(p.round, p.rollouts_spent, p.tokens_spent or None,
                             rs.new_rollouts if rs is not None else None,
                             rs.reused_rollouts if rs is not None else None, p.best_name, p.best_score, lines, costs))
    return rows


def evolution_context(runs: list[RunData]) -> dict[str, Any]:
    evolutions = [r for r in runs if r.kind == "evolve"]
    per_run = []
    by_rollouts: list[plots.Series] = []
    by_tokens: list[plots.Series] = []
    for run in evolutions:
        progress = progress_of(run)
        for target, tokens in ((by_rollouts, False), (by_tokens, True)):
            series = _best_so_far(progress, tokens)
            if series is not None:
                series.label = run.label
                target.append(series)
        stopped = run.log.evolution.stopped_by if run.log.evolution is not None else None
        rows = round_rows(run, progress)
        points = [plots.RoundPoint(r.round, line.tournament, line.finals, line.status == "winner")
                  for r in rows for line in r.lines]
        unusable = run.log.evolution.unusable_replies if run.log.evolution is not None else {}
        per_run.append({"run": run, "rounds": rows, "stopped_by": stopped, "unusable": unusable,
                        "best_prompt": run.best_prompt,
                        "plot": plots.rounds_plot(points) if points else None})
    return {
        "runs": per_run,
        "plot_rollouts": plots.progress_plot(by_rollouts, "rollouts spent") if by_rollouts else None,
        "plot_tokens": plots.progress_plot(by_tokens, "LLM tokens spent (all roles)") if by_tokens else None,
    }
