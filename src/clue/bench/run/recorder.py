"""The one writer of a run directory (in the spirit of inspect_ai's Recorder).

`RunRecorder.open` makes the directory, takes its lock and checks a resume against the spec, all before it
writes anything, so a refused command leaves the directory as it was. It then owns everything written
there: the run record (`log.json`), the rollout stores, the usage journal, the prompts, the lineage and the
optimizer's private state. Commands and optimizers hand it records; they never write run-dir files.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel

from clue.bench.run import files
from clue.bench.run.lineage import Lineage
from clue.bench.run.lineage_read import read_lineage
from clue.bench.run.record import (
    EvolutionRecord,
    RoundProgress,
    RunLog,
    RunSpec,
    SamplesRef,
    Status,
    now,
    read_runlog,
    spec_change,
    write_runlog,
)
from clue.bench.run.results import Results
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.rundir import ensure_run_dir, run_dir_lock
from clue.errors import BadInputError
from clue.fileio import write_atomic
from clue.llm.ledger import Ledger, UsageJournal, journal_endpoint_totals, journal_totals

Warn = Callable[[str], None]


class RunDirError(BadInputError):
    """The run dir does not match what was asked (e.g. finished work without --resume)."""


def holds_a_run(run_dir: Path) -> bool:
    return any((run_dir / name).exists() for name in files.RUN_MARKERS)


def check_resume(run_dir: Path, spec: RunSpec, roles: tuple[str, ...], *, resume: bool) -> RunLog | None:
    """The record to continue, or None for a fresh run. Refuses, in one line, an existing run without
    --resume, and a resume that would change the run's scope, models, endpoint or decoding."""
    if not holds_a_run(run_dir):
        return None
    if not resume:
        raise RunDirError(f"{run_dir}: already holds a run; pass --resume to continue it or choose a new --out")
    if not (run_dir / files.LOG).exists():
        return None
    previous = read_runlog(run_dir)
    changed = spec_change(previous.spec, spec, roles)
    if changed is not None:
        raise RunDirError(f"{run_dir}: holds a run with a different {changed}; continue with the run's "
                          "settings or choose a new --out")
    return previous


@contextmanager
def _journal(ledger: Ledger, path: Path) -> Iterator[None]:
    """Every LLM call of the run, one line each, while the run is live."""
    journal = UsageJournal(path)
    ledger.listeners.append(journal)
    try:
        yield
    finally:
        ledger.listeners.remove(journal)
        journal.close()


class RunRecorder:
    """Use `RunRecorder.open(...)`; `RunRecorder.detached(dir)` keeps an optimizer's private state and lineage
    for a harness driven without a run (tests), and writes no run record."""

    def __init__(self, run_dir: Path, log: RunLog | None, *, warn: Warn | None = None) -> None:
        self.run_dir = run_dir
        self.log = log
        self.warn = warn
        self.stores: dict[str, RolloutStore] = {}
        self._private_journal: TextIO | None = None
        self._unlogged = EvolutionRecord(method="")  # a detached recorder's progress, kept in memory only

    @classmethod
    @contextmanager
    def open(cls, run_dir: Path, spec: RunSpec, *, roles: tuple[str, ...], resume: bool,
             ledger: Ledger | None = None, warn: Warn | None = None) -> Iterator[RunRecorder]:
        """The recorder of a live run: on exit it records how the run ended (finished only via `finish`)."""
        ensure_run_dir(run_dir)
        with ExitStack() as stack:
            lock = stack.enter_context(run_dir_lock(run_dir, announce=False))
            previous = check_resume(run_dir, spec, roles, resume=resume)
            lock.announce()
            log = RunLog(started=previous.started if previous else now(), spec=spec)
            if spec.command == "evolve":
                log.evolution = (previous.evolution if previous and previous.evolution
                                 else EvolutionRecord(method=spec.method or ""))
                log.evolution.seed_results = log.evolution.best_results = None
            recorder = cls(run_dir, log, warn=warn)
            recorder._write_log()
            if ledger is not None:
                stack.enter_context(_journal(ledger, run_dir / files.USAGE_JOURNAL))
            try:
                yield recorder
            except BaseException as exc:
                interrupted = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
                recorder._end("interrupted" if interrupted else "failed",
                              (str(exc).splitlines() or [type(exc).__name__])[0])
                raise
            finally:
                recorder._close()

    @classmethod
    def detached(cls, run_dir: Path) -> RunRecorder:
        run_dir.mkdir(parents=True, exist_ok=True)
        return cls(run_dir, None)

    # -- samples ------------------------------------------------------------------------------------------
    def store(self, name: str = files.ROLLOUTS) -> RolloutStore:
        """The rollout store `name` (rollouts.jsonl or test_rollouts.jsonl), opened once."""
        if name not in self.stores:
            store = RolloutStore(self.run_dir / name)
            for line in store.skipped_lines:
                self.add_warning(line)
            self.stores[name] = store
        return self.stores[name]

    def add_warning(self, message: str) -> None:
        if self.log is not None and message not in self.log.warnings:
            self.log.warnings.append(message)
        if self.warn is not None:
            self.warn(message)

    def usage_totals(self) -> dict[str, dict[str, float]]:
        """Usage per role over the whole run, resumes included (from the usage journal)."""
        return journal_totals(self.run_dir / files.USAGE_JOURNAL)

    # -- prompts, lineage, private state ------------------------------------------------------------------
    def write_prompt(self, text: str) -> None:
        write_atomic(self.run_dir / files.PROMPT, text)

    def write_best_prompt(self, text: str) -> None:
        write_atomic(self.run_dir / files.BEST_PROMPT, text)

    def record_lineage(self, lineage: Lineage) -> None:
        """The evolution's typed lineage, rewritten whole when a step finishes."""
        write_atomic(self.run_dir / files.LINEAGE, lineage.model_dump_json(indent=1))

    def load_lineage(self, method: str) -> Lineage | None:
        """The lineage recorded by an earlier process of this run (any layout clue wrote), for a resume."""
        return read_lineage(self.run_dir / files.LINEAGE, method)

    def save_private_state(self, state: BaseModel) -> None:
        """The optimizer's resume state: one file, read back only by that optimizer. It holds every result
        journaled so far, so the journal starts over."""
        write_atomic(self.run_dir / files.PRIVATE_STATE, state.model_dump_json(indent=1))
        if self._private_journal is not None:
            self._private_journal.close()
            self._private_journal = None
        (self.run_dir / files.PRIVATE_JOURNAL).unlink(missing_ok=True)

    def journal_private_result(self, result: BaseModel) -> None:
        """One finished result, appended (and fsynced) without rewriting the state: the optimizer folds the
        journal back into its state when it resumes."""
        if self._private_journal is None:
            self._private_journal = (self.run_dir / files.PRIVATE_JOURNAL).open("a", encoding="utf-8")
        self._private_journal.write(result.model_dump_json() + "\n")
        self._private_journal.flush()
        os.fsync(self._private_journal.fileno())

    def private_results(self) -> list[str]:
        """The journaled lines, oldest first (the last may be torn by a crash: the optimizer skips what it cannot
        read)."""
        path = self.run_dir / files.PRIVATE_JOURNAL
        if not path.exists():
            return []
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def load_private_state(self) -> str | None:
        path = self.run_dir / files.PRIVATE_STATE
        return path.read_text(encoding="utf-8") if path.exists() else None

    @property
    def private_state_path(self) -> Path:
        """For error messages only."""
        return self.run_dir / files.PRIVATE_STATE

    # -- progress and the end -----------------------------------------------------------------------------
    def record_progress(self, progress: RoundProgress, *, stopped_by: str | None = None) -> None:
        """Add (or replace, on a resumed round) one round of an evolution's progress curve."""
        evolution = self._evolution()
        if evolution is None:
            return
        kept = [p for p in evolution.progress if p.round != progress.round]
        evolution.progress = sorted([*kept, progress], key=lambda p: p.round)
        if stopped_by is not None:
            evolution.stopped_by = stopped_by
        self._write_log()

    def record_stop(self, stopped_by: str | None) -> None:
        evolution = self._evolution()
        if evolution is not None:
            evolution.stopped_by = stopped_by
            self._write_log()

    def record_unusable_replies(self, unusable: dict[str, int]) -> None:
        """Optimizer replies unusable after every re-ask, per step, over the whole run."""
        evolution = self._evolution()
        if evolution is not None:
            evolution.unusable_replies = dict(unusable)
            self._write_log()

    def finish(self, results: Results | None = None, *, incomplete: str | None = None) -> None:
        """The run ended normally. `incomplete` names why its scores cannot be trusted (too many failures)."""
        if self.log is not None:
            self.log.results = results
            self._end("incomplete" if incomplete else "finished", incomplete)

    def finish_evolution(self, seed: Results | None, best: Results | None, best_hash: str,
                         budget: dict[str, int | None], stopped_by: str | None) -> None:
        evolution = self._evolution()
        if evolution is not None and self.log is not None:
            evolution.seed_results, evolution.best_results = seed, best
            evolution.best_hash, evolution.budget, evolution.stopped_by = best_hash, budget, stopped_by
            self.finish()

    @property
    def progress(self) -> list[RoundProgress]:
        evolution = self._evolution()
        return list(evolution.progress) if evolution is not None else []

    def _evolution(self) -> EvolutionRecord | None:
        if self.log is None:
            return self._unlogged
        if self.log.evolution is None:
            self.log.evolution = EvolutionRecord(method=self.log.spec.method or "")
        return self.log.evolution

    def _end(self, status: Status, error: str | None) -> None:
        assert self.log is not None
        self.log.status, self.log.error = status, error
        self.log.finished = now()
        self._write_log()

    def _close(self) -> None:
        if self._private_journal is not None:
            self._private_journal.close()
            self._private_journal = None
        main = self.stores.get(files.ROLLOUTS)
        for store in self.stores.values():
            store.close()
        if self.log is not None:
            self.log.usage = self.usage_totals()
            self.log.usage_by_endpoint = journal_endpoint_totals(self.run_dir / files.USAGE_JOURNAL)
            if main is not None:
                rollouts = main.rollouts.values()
                self.log.samples = SamplesRef(count=len(main.rollouts),
                                              failed=sum(1 for r in rollouts if r.infra_failure))
            self._write_log()

    def _write_log(self) -> None:
        if self.log is not None:
            write_runlog(self.run_dir, self.log)
