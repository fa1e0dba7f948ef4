"""Everything a report shows about one run directory, read through the typed run record (`log.json`).

This module reads the record, the samples and, for evolutions, the lineage and best prompt, once. A run dir
written before the run record existed (`run.json` / `results.json` / `usage.json`) is read into the same
`RunLog` schema, so the views below know only that schema. An optimizer's private state is never read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.run import files
from clue.bench.run.lineage import Lineage
from clue.bench.run.lineage_read import read_lineage
from clue.bench.run.record import EvolutionRecord, RunLog, RunSpec, SamplesRef, read_runlog
from clue.bench.run.results import Results, aggregate
from clue.bench.run.rollouts import Rollout, read_rollouts
from clue.errors import BadInputError, NotFoundError

TEST_SAMPLES = files.TEST_ROLLOUTS  # an evolution's final seed-vs-best comparison on the test pairs


@dataclass
class RunData:
    path: Path
    label: str
    log: RunLog
    rollouts: list[Rollout]  # the samples the log points to (an evolution's training rollouts)
    test_rollouts: list[Rollout] = field(default_factory=list)
    results: list[Results] = field(default_factory=list)  # eval: one; evolve: seed and best on the test pairs
    lineage: Lineage | None = None  # every method's lineage.json, read into the one typed lineage
    best_prompt: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "evolve" if self.log.evolution is not None else self.log.spec.command

    @property
    def method(self) -> str | None:
        return self.log.evolution.method if self.log.evolution is not None else self.log.spec.method

    def prompt_names(self) -> dict[str, str]:
        """Prompt hash -> name, from every place that names one."""
        names: dict[str, str] = {}
        if self.lineage is not None:
            for rs in self.lineage.rounds:
                names.setdefault(rs.base_hash, rs.base_name)
            for entry in self.lineage.entries:
                if entry.hash and entry.status != "rejected" and entry.origin.round is not None:
                    names.setdefault(entry.hash, entry.name)
        for rollout in (*self.rollouts, *self.test_rollouts):
            names.setdefault(rollout.prompt_hash, rollout.prompt_name)
        if self.log.spec.prompt_hash and self.log.spec.prompt_name:
            names.setdefault(self.log.spec.prompt_hash, self.log.spec.prompt_name)
        return names


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def legacy_runlog(run_dir: Path) -> RunLog:
    """The run log of a run dir written before `log.json` existed, from its manifest and state files."""
    manifest = _read_json(run_dir / files.LEGACY_MANIFEST) or {}
    state = _read_json(run_dir / files.PRIVATE_STATE)
    results = _read_json(run_dir / files.LEGACY_RESULTS)
    usage = _read_json(run_dir / files.LEGACY_USAGE) or {}
    if not manifest and state is None:
        raise NotFoundError(f"{run_dir}: no {files.LOG} (nor {files.LEGACY_MANIFEST} / {files.PRIVATE_STATE}): "
                            "not a clue run directory")
    evolution = None
    if isinstance(state, dict) and state.get("method"):
        evolution = EvolutionRecord(method=str(state["method"]), stopped_by=state.get("stopped_by"))
    spec = RunSpec(clue_version="unknown", command="evolve" if evolution else "eval", roles={},
                   split=manifest.get("split"), datasets=manifest.get("datasets") or [],
                   limit=manifest.get("limit"), repeats=manifest.get("repeats") or {},
                   prompt_name=manifest.get("prompt_name"), prompt_hash=manifest.get("prompt_hash"),
                   method=evolution.method if evolution else None)
    finished = results is not None or (isinstance(state, dict) and bool(state.get("finished")
                                                                        or state.get("status") == "done"))
    return RunLog(status="finished" if finished else "interrupted", started="unknown", spec=spec,
                  results=Results.model_validate(results) if isinstance(results, dict) else None, usage=usage,
                  samples=SamplesRef(), evolution=evolution)


def _aggregate_by_prompt(rollouts: list[Rollout]) -> list[Results]:
    """Results per prompt from the samples, for a run whose log has none yet (still running, interrupted)."""
    by_prompt: dict[str, list[Rollout]] = defaultdict(list)
    for rollout in rollouts:
        by_prompt[rollout.prompt_hash].append(rollout)
    return [aggregate(group) for group in by_prompt.values()]


def _read_samples(path: Path, warnings: list[str]) -> list[Rollout]:
    if not path.exists():
        return []
    rollouts = read_rollouts(path)
    lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if lines > len(rollouts):
        warnings.append(f"{path}: {lines - len(rollouts)} unreadable rollout line(s) left out")
    return rollouts


def load_run(run_dir: Path) -> RunData:
    """Read one run directory; raises NotFoundError / BadInputError naming the file at fault."""
    if not run_dir.exists():
        raise NotFoundError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise BadInputError(f"{run_dir}: not a directory (give the run directory, not a file in it)")
    log = read_runlog(run_dir) if (run_dir / files.LOG).exists() else legacy_runlog(run_dir)
    warnings: list[str] = [f"{run_dir}: {w}" for w in getattr(log, "warnings", [])]  # what the run itself reported
    rollouts = _read_samples(run_dir / log.samples.path, warnings)
    test_rollouts = _read_samples(run_dir / TEST_SAMPLES, warnings) if log.evolution is not None else []
    results = log.all_results
    if not results:
        results = _aggregate_by_prompt(test_rollouts if log.evolution is not None else rollouts)
    run = RunData(path=run_dir, label="", log=log, rollouts=rollouts, test_rollouts=test_rollouts,
                  results=results, warnings=warnings)
    if log.evolution is not None:
        run.lineage = read_lineage(run_dir / files.LINEAGE, run.method or "prompt")
        best = run_dir / files.BEST_PROMPT
        run.best_prompt = best.read_text(encoding="utf-8") if best.exists() else None
    return run


def _base_label(run: RunData) -> str:
    if run.kind == "evolve":
        return run.method or "evolve"
    return run.log.spec.prompt_name or (run.results[0].prompt_name if run.results else run.path.name)


def is_run_dir(path: Path) -> bool:
    return any((path / name).exists() for name in files.RUN_MARKERS)


def expand_run_dirs(paths: list[Path]) -> list[Path]:
    """A folder that is not a run itself but holds runs (e.g. `runs/demo`) stands for those runs."""
    out: list[Path] = []
    for path in paths:
        children = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p)) \
            if path.is_dir() and not is_run_dir(path) else []
        out.extend(children or [path])
    return out


def load_runs(run_dirs: list[Path]) -> list[RunData]:
    """Load each run once (a directory given twice is read once); labels are unique and readable."""
    seen: dict[Path, RunData] = {}
    for run_dir in expand_run_dirs(run_dirs):
        key = run_dir.resolve()
        if key not in seen:
            seen[key] = load_run(run_dir)
    runs = list(seen.values())
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        counts[_base_label(run)] += 1
    for run in runs:
        base = _base_label(run)
        run.label = base if counts[base] == 1 else f"{base} ({run.path.name})"
    return runs
