"""`clue study run`: every cell as an ordinary run directory, each made by clue's own command line.

A study directory holds `study.json` (the study as it was asked, to refuse a changed one on --resume),
`clue.toml` (the study's [llm] / [evolve] tables, read by every cell), `cache.sqlite` (one LLM response
cache every cell shares, so a (prompt, pair, settings) that recurs is served from it), `cells/NAME/` (the run
directories) and `logs/NAME.log` (each cell's own output).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from clue.errors import BadInputError, RunIncompleteError
from clue.fileio import write_atomic
from clue.study.cells import Cell, cell_command, cells_dir
from clue.study.reader import read_cell
from clue.study.spec import StudyFile, config_toml

STUDY_JSON = "study.json"
CACHE = "cache.sqlite"
CONFIG = "clue.toml"
INTERRUPTED = 130


class StudyDirError(BadInputError):
    """The study directory does not match what was asked."""


@dataclass
class CellOutcome:
    cell: Cell
    status: str  # done | skipped (already finished) | failed | blocked (its evolve run did not finish)
    seconds: float = 0.0
    detail: str = ""


def study_record(study: StudyFile, global_args: list[str]) -> dict[str, Any]:
    return {"study": study.model_dump(mode="json"), "options": global_args}


def first_change(before: Any, now: Any, where: str = "") -> str | None:
    """The first key whose value differs, as a dotted path (`study.prompts[1]`), else None."""
    if isinstance(before, dict) and isinstance(now, dict):
        for key in sorted(set(before) | set(now)):
            found = first_change(before.get(key), now.get(key), f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    if isinstance(before, list) and isinstance(now, list) and len(before) == len(now):
        for index, (old, new) in enumerate(zip(before, now, strict=True)):
            found = first_change(old, new, f"{where}[{index}]")
            if found:
                return found
        return None
    return None if before == now else (where or "study")


def prepare_study_dir(out: Path, study: StudyFile, global_args: list[str], *, resume: bool) -> None:
    """Check `out` against what is asked (refusing changes nothing), then write the study's files."""
    record = study_record(study, global_args)
    existing = out / STUDY_JSON
    if existing.exists():
        if not resume:
            raise StudyDirError(f"{out}: already holds a study; pass --resume to continue it or choose a new --out")
        previous = json.loads(existing.read_text(encoding="utf-8"))
        changed = first_change(previous, record)
        if changed is not None and changed.startswith("options"):
            raise StudyDirError(f"{out}: --resume with other global options ({' '.join(previous['options'])} "
                                f"there; {' '.join(global_args)} now); give the same ones or choose a new --out")
        if changed is not None:
            raise StudyDirError(f"{out}: --resume with a changed study: {changed} differs from the study "
                                "this directory was started with; undo the change or choose a new --out")
    elif out.exists() and any(out.iterdir()):
        raise StudyDirError(f"{out}: not empty and not a study directory; choose a new --out")
    cells_dir(out).mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    write_atomic(out / CONFIG, config_toml(study))
    write_atomic(existing, json.dumps(record, indent=1))


def cell_environment(out: Path, *, no_cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not no_cache:
        env["CLUE_CACHE"] = str((out / CACHE).resolve())
    return env


class Children:
    """The cells' live `clue` processes, so that Ctrl-C / SIGTERM interrupts every one (each keeps its work)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()

    def run(self, argv: list[str], log: IO[str], env: dict[str, str]) -> int:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        with self._lock:
            self._live.add(child)
        try:
            return child.wait()
        finally:
            with self._lock:
                self._live.discard(child)

    def interrupt_all(self, grace_s: float = 60.0) -> None:
        with self._lock:
            live = list(self._live)
        for child in live:
            child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace_s
        for child in live:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run_cell(cell: Cell, out: Path, global_args: list[str], children: Children, *, limit: int | None,
             no_cache: bool) -> CellOutcome:
    """Run one cell in a child `clue` process; a finished cell is never redone, an unfinished one resumed."""
    run_dir = cells_dir(out) / cell.name
    record = read_cell(run_dir)
    if record.finished:
        return CellOutcome(cell, "skipped")
    if cell.after is not None and not read_cell(cells_dir(out) / cell.after).finished:
        return CellOutcome(cell, "blocked", detail=f"its optimizer run {cell.after} did not finish")
    resume = run_dir.exists() and any(run_dir.iterdir())
    argv = [sys.executable, "-m", "clue", *global_args, *cell_command(cell, run_dir, limit=limit, resume=resume)]
    log_path = out / "logs" / f"{cell.name}.log"
    started = time.monotonic()
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(argv[1:])}\n")
        log.flush()
        code = children.run(argv, log, cell_environment(out, no_cache=no_cache))
    seconds = time.monotonic() - started
    if code == INTERRUPTED:
        raise KeyboardInterrupt
    if code != 0 or not read_cell(run_dir).finished:
        return CellOutcome(cell, "failed", seconds, _last_error(log_path, code))
    return CellOutcome(cell, "done", seconds)


def _last_error(log_path: Path, code: int) -> str:
    lines = [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    found = errors[-1] if errors else (lines[-1] if lines else "")
    return f"exit {code}: {found.strip()[:300]} (log: {log_path})"


@dataclass
class Progress:
    """One line per cell, with an ETA from this session's pace (planned rollouts done per second)."""

    planned: dict[str, int]
    started: float = 0.0
    done_rollouts: int = 0
    remaining: int = 0

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.remaining = sum(self.planned.values())

    def line(self, index: int, total: int, outcome: CellOutcome) -> str:
        rollouts = self.planned.get(outcome.cell.name, 0)
        self.remaining -= rollouts
        if outcome.status == "done":
            self.done_rollouts += rollouts
        elapsed = time.monotonic() - self.started
        eta = ("ETA 0 s" if self.remaining <= 0 else
               f"ETA {_duration(self.remaining * elapsed / self.done_rollouts)}" if self.done_rollouts
               else "ETA unknown")
        what = {"done": f"finished in {_duration(outcome.seconds)} ({rollouts} rollouts planned)",
                "skipped": "already finished, kept", "failed": f"FAILED: {outcome.detail}",
                "blocked": f"not run: {outcome.detail}"}[outcome.status]
        return f"[{index}/{total}] {outcome.cell.name}: {what}; {ETA_LABEL} {eta}"


ETA_LABEL = "study"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_cells(cells: list[Cell], out: Path, global_args: list[str], *, limit: int | None, no_cache: bool,
              planned: dict[str, int], say: Callable[[str], None], parallel: int = 1) -> list[CellOutcome]:
    """Run the cells, `parallel` at a time; an optimizer's follow-up cells start once its evolve run ended."""
    progress = Progress(planned)
    children = Children()
    outcomes: dict[str, CellOutcome] = {}
    pending = list(cells)
    running: dict[Future[CellOutcome], Cell] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        try:
            while pending or running:
                for cell in [c for c in pending if c.after is None or c.after in outcomes][:parallel - len(running)]:
                    pending.remove(cell)
                    running[pool.submit(run_cell, cell, out, global_args, children, limit=limit,
                                        no_cache=no_cache)] = cell
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = outcomes[running.pop(future).name] = future.result()
                    say(progress.line(len(outcomes), len(cells), outcome))
        except BaseException:
            pending.clear()
            children.interrupt_all()
            raise
    ordered = [outcomes[c.name] for c in cells]
    bad = [o for o in ordered if o.status in ("failed", "blocked")]
    if bad:
        raise RunIncompleteError(f"{len(bad)} of {len(cells)} cells did not finish (first: {bad[0].cell.name}: "
                                 f"{bad[0].detail}); fix the cause and continue with --resume")
    return ordered
