"""`clue show`: print a finished (or interrupted) run's spec and results from its log, touching nothing."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from clue.bench.run.record import RunLog
from clue.bench.run.rundir import lock_holder
from clue.commands.common import console, run_sync


def _status(log: RunLog, run_dir: Path) -> str:
    """The recorded status; a run recorded as running that no process holds was killed (kill -9, power loss)."""
    if log.status != "running":
        return log.status
    holder = lock_holder(run_dir)
    if holder is None:
        return "running when it was last recorded, but no process holds it (killed?): --resume continues it"
    return f"running (PID {holder})"


def spec_table(log: RunLog, run_dir: Path) -> Table:
    table = Table(title=f"{log.spec.command} run: {_status(log, run_dir)}", show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value")
    spec = log.spec
    rows: list[tuple[str, str]] = [
        ("started / finished", f"{log.started} / {log.finished or '-'}"),
        ("clue", spec.clue_version),
        ("prompt", f"{spec.prompt_name} ({spec.prompt_hash})" if spec.prompt_name else "-"),
        ("method", spec.method or "-"),
        ("datasets", ", ".join(spec.datasets) or "-"),
        ("split / limit", f"{spec.split or '-'} / {spec.limit if spec.limit is not None else 'all'}"),
        ("data root", spec.data_root or "-"),
        ("rollouts", f"{log.samples.count} in {log.samples.path} ({log.samples.failed} infrastructure failures)"),
    ]
    for role, r in spec.roles.items():
        thinking = "default" if r.thinking is None else ("on" if r.thinking else "off")
        rows.append((role, f"{r.backend}:{r.model}{' @ ' + r.base_url if r.base_url else ''} "
                           f"T={r.temperature} top_p={r.top_p} max={r.max_tokens} thinking={thinking}"))
    if log.evolution is not None and log.evolution.stopped_by:
        rows.append(("stopped by", log.evolution.stopped_by))
    if log.evolution is not None and log.evolution.unusable_replies:
        counts = ", ".join(f"{step} {n}" for step, n in sorted(log.evolution.unusable_replies.items()))
        rows.append(("unusable replies", f"optimizer replies unusable after every re-ask: {counts}"))
    left_out = sum(p.left_out for p in log.evolution.progress) if log.evolution is not None else 0
    if left_out:
        rows.append(("left out", f"{left_out} tournament/finals rollouts kept failing for infrastructure reasons; "
                                 "not scored"))
    if log.error:
        rows.append(("error" if log.status != "incomplete" else "incomplete", log.error))
    for warning in log.warnings:
        rows.append(("warning", warning))
    for key, value in rows:
        table.add_row(key, value)
    return table


def show_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by clue eval, evolve or demo."),
) -> None:
    """Print a run's spec, results and usage from its log.json, without changing anything in it.

    Example: clue show runs/simple
    """
    from clue.bench.run.record import read_runlog
    from clue.report.tables import comparison_table, print_table, results_table, usage_table

    def job() -> None:
        log = read_runlog(run_dir)
        print_table(spec_table(log, run_dir), console)
        if log.results is not None:
            print_table(results_table(log.results), console)
        if log.evolution is not None and log.all_results:
            print_table(comparison_table(log.all_results, title="seed vs evolved on the test split"), console)
        if log.evolution is not None and log.evolution.progress:
            last = log.evolution.progress[-1]
            console.print(f"best after round {last.round}: {last.best_name} ({last.best_hash}); "
                          f"{last.rollouts_spent} rollouts, {last.tokens_spent} tokens spent", highlight=False)
        if log.usage:
            print_table(usage_table(log.usage), console)
        if len(log.usage_by_endpoint) > 1:
            print_table(usage_table(log.usage_by_endpoint, "LLM usage by endpoint", key="endpoint"), console)

    run_sync(job)


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
