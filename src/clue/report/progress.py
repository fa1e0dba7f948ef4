"""A rich progress bar for rollouts: done/total, rate and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clue.bench.rollouts import Rollout


@contextmanager
def rollout_progress(total: int, description: str,
                     console: Console | None = None) -> Iterator[Callable[[Rollout, bool], None]]:
    """Yields the callback the runner calls once per rollout (reused ones advance the bar too)."""
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rollouts/s"), TextColumn("{task.fields[tokens]} tok"),
        TextColumn("{task.fields[errors]} err"), TimeElapsedColumn(),
        console=console or Console(stderr=True), transient=False,
    )
    task = progress.add_task(description, total=total, rate="-", tokens=0, errors=0)
    counters = {"tokens": 0, "errors": 0, "new": 0}

    def on_rollout(rollout: Rollout, reused: bool) -> None:
        if not reused:
            counters["new"] += 1
            counters["tokens"] += rollout.tokens
        counters["errors"] += 1 if rollout.error else 0
        elapsed = progress.tasks[task].elapsed or 0.0
        rate = f"{counters['new'] / elapsed:.2f}" if elapsed > 0 else "-"
        progress.update(task, advance=1, rate=rate, tokens=counters["tokens"], errors=counters["errors"])

    with progress:
        yield on_rollout
