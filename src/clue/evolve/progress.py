"""The evolution part of the run log (`log.json`): one `RoundProgress` per finished round, written as rounds
finish. The spec, usage and status parts of the log are written by the command; this module only touches
`evolution`, so both writers can share the file."""

from __future__ import annotations

from pathlib import Path

from clue.bench.run.runlog import RUNLOG, EvolutionLog, RoundProgress, RunLog, RunSpec, now, write_runlog
from clue.evolve.state import RoundState, RunState


def round_progress(state: RunState, rs: RoundState, budget: dict[str, int | None]) -> RoundProgress:
    """After a tournament round: what was spent, which prompt is best, and every entrant's scores."""
    best = state.prompts[state.base]
    finals = {s.prompt_hash: s.accuracy for s in rs.finals}
    tournament = {s.prompt_hash: s.accuracy for s in rs.tournament}
    return RoundProgress(round=rs.index + 1, rollouts_spent=int(budget.get("rollouts_spent") or 0),
                         tokens_spent=int(budget.get("tokens_spent") or 0), best_hash=best.hash,
                         best_name=best.name, best_score=finals.get(best.hash, tournament.get(best.hash)),
                         tournament=tournament, finals=finals, unusable_replies=dict(state.replies.unusable))


def _load_or_start(run_dir: Path, method: str) -> RunLog:
    path = run_dir / RUNLOG
    if path.exists():
        try:
            return RunLog.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError:
            pass  # a log this clue cannot read is replaced, not crashed on
    from clue import __version__

    return RunLog(started=now(), spec=RunSpec(clue_version=__version__, command="evolve", roles={},
                                              method=method))


def record_round(run_dir: Path, method: str, progress: RoundProgress, *, stopped_by: str | None = None) -> None:
    """Add (or replace, on a resumed round) this round's progress in `log.json`."""
    log = _load_or_start(run_dir, method)
    evolution = log.evolution or EvolutionLog(method=method)
    kept = [p for p in evolution.progress if p.round != progress.round]
    evolution.progress = sorted([*kept, progress], key=lambda p: p.round)
    if stopped_by is not None:
        evolution.stopped_by = stopped_by
    log.evolution = evolution
    write_runlog(run_dir, log)


def record_stop(run_dir: Path, method: str, stopped_by: str | None) -> None:
    log = _load_or_start(run_dir, method)
    log.evolution = (log.evolution or EvolutionLog(method=method)).model_copy(update={"stopped_by": stopped_by})
    write_runlog(run_dir, log)


def record_spec(run_dir: Path, spec: RunSpec) -> None:
    """Write the run's spec into `log.json`, keeping the progress a resumed run already recorded."""
    log = _load_or_start(run_dir, spec.method or "")
    log.spec = spec
    log.status = "running"
    write_runlog(run_dir, log)
