"""Rollout progress: a rich bar on a terminal, a plain line at a steady interval anywhere else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clue.bench.run.rollouts import Rollout

RolloutCallback = Callable[[Rollout, bool], None]
LOG_INTERVAL_S = 30.0


class _Counts:
    def __init__(self) -> None:
        self.done = self.new = self.tokens = self.errors = self.failed = 0

    def add(self, rollout: Rollout, reused: bool) -> None:
        self.done += 1
        if not reused:
            self.new += 1
            self.tokens += rollout.tokens
        self.errors += 1 if rollout.error else 0
        self.failed += 1 if rollout.infra_failure else 0


@contextmanager
def rollout_progress(total: int, description: str, console: Console | None = None, *,
                     interval_s: float = LOG_INTERVAL_S) -> Iterator[RolloutCallback]:
    """Yields the callback the runner calls once per rollout (reused ones count too).

    Without a terminal (piped, CI, nohup) a bar would print nothing until the end, so a line goes out every
    `interval_s` seconds instead, and one when the last rollout finishes.
    """
    console = console or Console(stderr=True)
    if not console.is_terminal:
        with _log_lines(total, description, console, interval_s) as log_rollout:
            yield log_rollout
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rollouts/s"), TextColumn("{task.fields[tokens]} tok"),
        TextColumn("{task.fields[errors]} err"), TimeElapsedColumn(), console=console, transient=False,
    )
    task = progress.add_task(description, total=total, rate="-", tokens=0, errors=0)
    counts = _Counts()

    def on_rollout(rollout: Rollout, reused: bool) -> None:
        counts.add(rollout, reused)
        elapsed = progress.tasks[task].elapsed or 0.0
        rate = f"{counts.new / elapsed:.2f}" if elapsed > 0 else "-"
        progress.update(task, advance=1, rate=rate, tokens=counts.tokens, errors=counts.errors)

    with progress:
        yield on_rollout


@contextmanager
def _log_lines(total: int, description: str, console: Console,
               interval_s: float) -> Iterator[RolloutCallback]:
    """A line every `interval_s` seconds from a heartbeat thread (also while nothing finishes), and one at
    the end."""
    counts = _Counts()
    started = time.monotonic()
    lock = threading.Lock()
    stop = threading.Event()

    def emit() -> None:
        with lock:
            minutes = (time.monotonic() - started) / 60
            text = (f"{description}: {counts.done}/{total} rollouts ({counts.new} new, {counts.errors} errors, "
                    f"{counts.failed} infrastructure failures, {counts.tokens} tokens), {minutes:.1f} min")
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    def heartbeat() -> None:
        while not stop.wait(interval_s):
            emit()

    def on_rollout(rollout: Rollout, reused: bool) -> None:
        with lock:
            counts.add(rollout, reused)

    console.print(f"{description}: {total} rollouts to go", highlight=False, markup=False, soft_wrap=True)
    thread = threading.Thread(target=heartbeat, name="clue-progress", daemon=True)
    thread.start()
    try:
        yield on_rollout
    finally:
        stop.set()
        thread.join()
        emit()
