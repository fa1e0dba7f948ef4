"""One `clue eval` run: choose pairs, run every (pair, repeat), write the run dir, aggregate results."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.records import Pair
from clue.bench.results import Results, aggregate, with_gain
from clue.bench.rollouts import Rollout, RolloutStore
from clue.bench.runner import Runner
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt

MANIFEST = "run.json"
ROLLOUTS = "rollouts.jsonl"
RESULTS = "results.json"
USAGE = "usage.json"


class RunDirError(ValueError):
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


def prepare_run_dir(out: Path, plan: EvalPlan, *, resume: bool) -> None:
    """Refuse to mix runs: an existing run dir needs --resume and the same prompt and selection."""
    manifest = {"prompt_name": plan.prompt.name, "prompt_hash": plan.prompt.hash, **plan.description,
                "repeats": plan.repeats_by_dataset, "pairs": len(plan.pairs)}
    existing = out / MANIFEST
    if existing.exists():
        if not resume:
            raise RunDirError(f"{out}: already holds a run; pass --resume to continue it or choose a new --out")
        previous = json.loads(existing.read_text())
        for key in ("prompt_hash", "datasets", "split"):
            if previous.get(key) != manifest.get(key):
                raise RunDirError(f"{out}: --resume with a different {key} "
                                  f"({previous.get(key)!r} there, {manifest.get(key)!r} now)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "prompt.txt").write_text(plan.prompt.text)
    _write_json(existing, manifest)


async def run_plan(llm: LLM, plan: EvalPlan, out: Path, *, resume: bool = False, runner: Runner | None = None,
                   on_rollout: Callable[[Rollout, bool], None] | None = None,
                   baseline: Results | None = None) -> Results:
    prepare_run_dir(out, plan, resume=resume)
    store = RolloutStore(out / ROLLOUTS)
    runner = runner or Runner(llm)
    if on_rollout is not None:
        runner.on_rollout = on_rollout
    try:
        rollouts: list[Rollout] = []
        for repeats, group in _group_by_repeats(plan).items():
            rollouts.extend(await runner.evaluate(plan.prompt, group, tuple(range(repeats)), store=store))
    finally:
        store.close()
        llm.ledger.write(out / USAGE)
    results = aggregate(rollouts, usage=llm.ledger.snapshot())
    if baseline is not None:
        results = with_gain(results, baseline)
    _write_json(out / RESULTS, results.model_dump())
    return results


def _group_by_repeats(plan: EvalPlan) -> dict[int, list[Pair]]:
    groups: dict[int, list[Pair]] = {}
    for pair in plan.pairs:
        groups.setdefault(plan.repeats_by_dataset[pair.dataset], []).append(pair)
    return groups


def load_results(path: Path) -> Results:
    """Accept a run dir or a results.json."""
    target = path / RESULTS if path.is_dir() else path
    if not target.exists():
        raise FileNotFoundError(f"{target}: no results file (run `clue eval` into that directory first)")
    return Results.model_validate_json(target.read_text())


def repeats_for(datasets: Sequence[str], pairs: Sequence[Pair], requested: int | None,
                default: Callable[[str, int], int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.dataset] = counts.get(pair.dataset, 0) + 1
    return {name: requested if requested is not None else default(name, counts.get(name, 0))
            for name in {*datasets, *counts}}
