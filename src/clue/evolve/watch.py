"""Progress reporting for evolution runs: a no-op base, a rich printer, and a recorder for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from clue.evolve.state import RoundState, RunState


@dataclass
class CandidateLine:
    name: str
    prompt_hash: str | None
    tournament: float | None = None
    finals: float | None = None
    rejected: str | None = None
    finalist: bool = False
    base: bool = False


@dataclass
class RoundReport:
    method: str
    round: int  # 1-based
    rounds: int
    base: str
    winner: str
    clusters: list[tuple[str, int]] = field(default_factory=list)  # (label, size)
    candidates: list[CandidateLine] = field(default_factory=list)
    new_rollouts: int = 0
    reused_rollouts: int = 0
    notes: list[str] = field(default_factory=list)


class Reporter:
    """Subclass and override what you need; every hook is a no-op here."""

    def step(self, method: str, round: int, step: str) -> None:
        return None

    def rejected(self, method: str, round: int, candidate: str, reason: str) -> None:
        return None

    def round_finished(self, report: RoundReport) -> None:
        return None

    def stopped(self, method: str, reason: str) -> None:
        return None


class RecordingReporter(Reporter):
    """Keeps every event; tests assert on `events` and `rounds`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.rounds: list[RoundReport] = []

    def step(self, method: str, round: int, step: str) -> None:
        self.events.append(("step", (method, round, step)))

    def rejected(self, method: str, round: int, candidate: str, reason: str) -> None:
        self.events.append(("rejected", (candidate, reason)))

    def round_finished(self, report: RoundReport) -> None:
        self.rounds.append(report)
        self.events.append(("round", report))

    def stopped(self, method: str, reason: str) -> None:
        self.events.append(("stopped", reason))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def round_table(report: RoundReport) -> Table:
    table = Table(title=f"{report.method} round {report.round}/{report.rounds}: winner {report.winner}",
                  caption=f"{report.new_rollouts} new rollouts, {report.reused_rollouts} reused")
    for column in ("prompt", "tournament", "finals", "status"):
        table.add_column(column, justify="left" if column in ("prompt", "status") else "right")
    for line in report.candidates:
        status = ("rejected: " + line.rejected if line.rejected
                  else "winner" if line.name == report.winner else "finalist" if line.finalist else "")
        table.add_row(line.name + (" (base)" if line.base else ""), _pct(line.tournament), _pct(line.finals),
                      status, style="bold" if line.name == report.winner else None)
    return table


class RichReporter(Reporter):
    """Prints one line per step and a table per round."""

    def __init__(self, console: Console | None = None, *, steps: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.show_steps = steps

    def step(self, method: str, round: int, step: str) -> None:
        if self.show_steps:
            self.console.print(f"[dim]{method} round {round}: {step}[/dim]")

    def rejected(self, method: str, round: int, candidate: str, reason: str) -> None:
        self.console.print(f"[yellow]{candidate} rejected:[/yellow] {reason}")

    def round_finished(self, report: RoundReport) -> None:
        if report.clusters:
            sizes = ", ".join(f"{label} ({size})" for label, size in report.clusters)
            self.console.print(f"clusters: {sizes}")
        self.console.print(round_table(report))

    def stopped(self, method: str, reason: str) -> None:
        self.console.print(f"[yellow]{method} stopped:[/yellow] {reason}")


def round_report(state: RunState, rs: RoundState, rounds: int) -> RoundReport:
    tournament = {s.prompt_hash: s.accuracy for s in rs.tournament}
    finals = {s.prompt_hash: s.accuracy for s in rs.finals}
    base = state.prompts[rs.base_hash]
    lines = [CandidateLine(base.name, base.hash, tournament.get(base.hash), finals.get(base.hash),
                           finalist=base.hash in rs.finalists, base=True)]
    for c in rs.sorted_candidates():
        ran = c.run_hash
        lines.append(CandidateLine(c.name, c.hash, tournament.get(ran) if ran else None,
                                   finals.get(ran) if ran else None, c.rejected,
                                   finalist=ran is not None and ran in rs.finalists))
    return RoundReport(method=state.method, round=rs.index + 1, rounds=rounds, base=base.name,
                       winner=state.prompts[rs.winner].name if rs.winner else base.name,
                       clusters=[(c.label, len(c.members)) for c in rs.clusters], candidates=lines,
                       new_rollouts=rs.new_rollouts, reused_rollouts=rs.reused_rollouts)
