"""Reading a run's `lineage.json` in tests: it must be the typed lineage, whichever method wrote it."""

from __future__ import annotations

from pathlib import Path

from clue.bench.run.lineage import AceDetails, GepaDetails, Lineage, LineageEntry, TournamentDetails


def read_lineage(run_dir: Path) -> Lineage:
    return Lineage.model_validate_json((run_dir / "lineage.json").read_text(encoding="utf-8"))


def ace(entry: LineageEntry) -> AceDetails:
    assert isinstance(entry.details, AceDetails)
    return entry.details


def gepa(entry: LineageEntry) -> GepaDetails:
    assert isinstance(entry.details, GepaDetails)
    return entry.details


def tournament(entry: LineageEntry) -> TournamentDetails:
    assert isinstance(entry.details, TournamentDetails)
    return entry.details
