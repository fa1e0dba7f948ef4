"""One `clue eval` run: choose pairs, run every (pair, repeat), write the run dir, aggregate results.

The run dir: `log.json` (the versioned run log every report reads), `run.json` (the selection, for
--resume), `prompt.txt`, `rollouts.jsonl` (append-only samples), `usage.jsonl` (one line per LLM call, so
usage survives a kill), `usage.json` (its totals) and `results.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clue.bench.data.records import Pair
from clue.bench.run.results import Results, aggregate, with_gain
from clue.bench.run.rollouts import Rollout, RolloutStore
from clue.bench.run.runlog import RunLog, RunSpec, SamplesRef, check_resume, clue_version, now, role_specs, write_runlog
from clue.bench.run.runner import Runner
from clue.errors import BadInputError, NotFoundError
from clue.llm.client import LLM
from clue.llm.ledger import UsageJournal, journal_totals
from clue.memory.prompts import ExtractionPrompt

MANIFEST = "run.json"
ROLLOUTS = "rollouts.jsonl"
RESULTS = "results.json"
USAGE = "usage.json"
USAGE_JOURNAL = "usage.jsonl"
EVAL_ROLES = ("extractor", "solver", "judge")
Warn = Callable[[str], None]


class RunDirError(BadInputError):
    """The run dir does not match what was asked (e.g. finished work without --resume)."""


@dataclass
class EvalPlan:
    prompt: ExtractionPrompt
    pairs: list[Pair]
    repeats_by_dataset: dict[str, int]
    description: dict[str, Any] = field(default_factory=dict)  # datasets, split, limit: for the manifest

    @property
    def total(self) -> int:
        return sum(self.repeats_by_dataset[p.dataset] for p in self.pairs)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def plan_spec(llm: LLM, plan: EvalPlan, *, command: Literal["eval", "evolve", "demo"] = "eval",
              data_root: Path | None = None, settings: dict[str, Any] | None = None) -> RunSpec:
    return RunSpec(clue_version=clue_version(), command=command, roles=role_specs(llm.settings),
                   data_root=str(data_root) if data_root else None, split=plan.description.get("split"),
                   datasets=list(plan.description.get("datasets", [])), limit=plan.description.get("limit"),
                   repeats=plan.repeats_by_dataset, prompt_name=plan.prompt.name, prompt_hash=plan.prompt.hash,
                   prompt_text=plan.prompt.text, settings=settings or {})


def prepare_run_dir(out: Path, plan: EvalPlan, *, resume: bool, spec: RunSpec | None = None) -> RunLog | None:
    """Refuse to mix runs: an existing run dir needs --resume, the same prompt and selection, and the same
    models and decoding. Returns the previous run log when resuming one."""
    manifest = {"prompt_name": plan.prompt.name, "prompt_hash": plan.prompt.hash, **plan.description,
                "repeats": plan.repeats_by_dataset, "pairs": len(plan.pairs)}
    existing = out / MANIFEST
    previous_log: RunLog | None = None
    if existing.exists():
        if not resume:
            raise RunDirError(f"{out}: already holds a run; pass --resume to continue it or choose a new --out")
        previous = json.loads(existing.read_text())
        for key in ("prompt_hash", "datasets", "split"):
            if previous.get(key) != manifest.get(key):
                raise RunDirError(f"{out}: --resume with a different {key} "
                                  f"({previous.get(key)!r} there, {manifest.get(key)!r} now)")
        if spec is not None:
            previous_log = check_resume(out, spec, EVAL_ROLES)
    out.mkdir(parents=True, exist_ok=True)
    (out / "prompt.txt").write_text(plan.prompt.text)
    _write_json(existing, manifest)
    return previous_log


async def run_plan(llm: LLM, plan: EvalPlan, out: Path, *, resume: bool = False, runner: Runner | None = None,
                   on_rollout: Callable[[Rollout, bool], None] | None = None,
                   baseline: Results | None = None, warn: Warn | None = None,
                   command: Literal["eval", "evolve", "demo"] = "eval", data_root: Path | None = None,
                   settings: dict[str, Any] | None = None) -> Results:
    spec = plan_spec(llm, plan, command=command, data_root=data_root, settings=settings)
    previous = prepare_run_dir(out, plan, resume=resume, spec=spec)
    log = RunLog(started=previous.started if previous else now(), spec=spec, warnings=[])
    store = RolloutStore(out / ROLLOUTS)
    for line in store.skipped_lines:
        log.warnings.append(line)
        if warn is not None:
            warn(line)
    write_runlog(out, log)
    own_runner = runner is None
    runner = runner or Runner(llm)
    if on_rollout is not None:
        runner.on_rollout = on_rollout
    journal = UsageJournal(out / USAGE_JOURNAL)
    llm.ledger.listeners.append(journal)
    rollouts: list[Rollout] = []
    try:
        for repeats, group in _group_by_repeats(plan).items():
            rollouts.extend(await runner.evaluate(plan.prompt, group, tuple(range(repeats)), store=store))
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
        log.status = "interrupted" if interrupted else "failed"
        log.error = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise
    else:
        log.status = "finished"
    finally:
        llm.ledger.listeners.remove(journal)
        journal.close()
        store.close()
        if own_runner:
            await runner.aclose()
        usage = journal_totals(out / USAGE_JOURNAL)
        _write_json(out / USAGE, usage)
        log.usage, log.finished = usage, now()
        log.samples = SamplesRef(path=ROLLOUTS, count=len(store.rollouts),
                                 failed=sum(1 for r in store.rollouts.values() if r.infra_failure))
        write_runlog(out, log)
    results = aggregate(rollouts, usage=usage)
    if baseline is not None:
        results = with_gain(results, baseline)
    cut = sum(1 for r in rollouts if any("cut off inside <think>" in note for note in r.notes))
    if cut:
        message = (f"{cut} rollout(s) had a reply cut off inside <think> (no answer written); "
                   "raise that role's max_tokens")
        log.warnings.append(message)
        if warn is not None:
            warn(message)
    _write_json(out / RESULTS, results.model_dump())
    log.results = results.model_dump()
    write_runlog(out, log)
    return results


def _group_by_repeats(plan: EvalPlan) -> dict[int, list[Pair]]:
    groups: dict[int, list[Pair]] = {}
    for pair in plan.pairs:
        groups.setdefault(plan.repeats_by_dataset[pair.dataset], []).append(pair)
    return groups


def load_results(path: Path) -> Results:
    """Accept a run dir (its log.json, else results.json) or a results.json."""
    if path.is_dir():
        from clue.bench.run.runlog import RUNLOG, read_runlog

        if (path / RUNLOG).exists():
            log = read_runlog(path)
            if log.results is not None:
                return Results.model_validate(log.results)
        path = path / RESULTS
    if not path.exists():
        raise NotFoundError(f"{path}: no results file (run `clue eval` into that directory first)")
    return Results.model_validate_json(path.read_text())
