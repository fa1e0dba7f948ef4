"""The one place a study reads a cell's run directory (status, results, rollouts).

Cells are ordinary run directories written by `clue eval` / `clue evolve`; when their record changes, this
module is the only one to adapt.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from clue.bench.run.results import DEFAULT_MAX_FAILURE_RATE, Results
from clue.errors import BadInputError, NotFoundError


@dataclass
class CellRecord:
    status: str  # finished | running | interrupted | failed | missing | unfinished (no results, or too many
    # infrastructure failures: `clue eval` exited 6 and --resume retries them)
    results: Results | None = None
    # dataset -> role -> (calls, prompt tokens, completion tokens) summed over `rollouts[dataset]` rollouts
    role_totals: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rollouts: dict[str, int] = field(default_factory=dict)
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # the run's own per-role usage

    @property
    def finished(self) -> bool:
        return self.status == "finished"


def read_cell(run_dir: Path, *, with_rollouts: bool = False) -> CellRecord:
    """What a cell's run directory holds; `missing` when it has no readable run log yet."""
    from clue.bench.run.evaluation import load_results
    from clue.bench.run.record import read_runlog

    try:
        log = read_runlog(run_dir)
    except (NotFoundError, BadInputError):
        return CellRecord(status="missing")
    # An eval that exited 6 is recorded "incomplete": for a study that is unfinished work, as before.
    record = CellRecord(status="unfinished" if log.status == "incomplete" else log.status, usage=log.usage)
    if log.status == "finished" and log.spec.command == "eval":
        try:
            record.results = load_results(run_dir)
        except (NotFoundError, BadInputError, ValueError):
            record.results = None
        # No results: killed between the status and the results being written. Too many infrastructure
        # failures: `clue eval` exited 6. Either way --resume completes it.
        if record.results is None or record.results.failure_rate > DEFAULT_MAX_FAILURE_RATE:
            record.status = "unfinished"
    if with_rollouts and (run_dir / log.samples.path).exists():
        _add_rollout_totals(record, run_dir / log.samples.path)
    return record


def _add_rollout_totals(record: CellRecord, path: Path) -> None:
    """Per dataset and role: calls and tokens the cell's rollouts made (cached replies count as calls)."""
    from clue.bench.run.events import LLMCallEvent
    from clue.bench.run.rollouts import read_rollouts

    totals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))
    for rollout in read_rollouts(path):
        if rollout.infra_failure:
            continue
        record.rollouts[rollout.dataset] = record.rollouts.get(rollout.dataset, 0) + 1
        for event in rollout.events:
            if isinstance(event, LLMCallEvent):
                row = totals[rollout.dataset][event.role]
                row[0] += 1
                row[1] += event.prompt_tokens
                row[2] += event.completion_tokens
    record.role_totals = {name: dict(roles) for name, roles in totals.items()}
