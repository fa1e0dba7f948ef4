"""One `clue eval` run: choose pairs, run every (pair, repeat) through the run's recorder, aggregate results.

The run directory and who writes it: see `clue.bench.run.files` and `clue.bench.run.recorder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.run import files
from clue.bench.run.record import Command, RunSpec, build_spec, read_runlog
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.results import Results, aggregate, failure_message, with_gain
from clue.bench.run.rollouts import Rollout
from clue.bench.run.runner import Runner
from clue.errors import NotFoundError
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt

EVAL_ROLES = ("extractor", "solver", "judge")
Warn = Callable[[str], None]
CUT_THINKING = "cut off inside <think>"


@dataclass
class EvalPlan:
    prompt: ExtractionPrompt
    pairs: list[Pair]
    repeats_by_dataset: dict[str, int]
    description: dict[str, Any] = field(default_factory=dict)  # datasets, split, limit, data_root: for the spec

    @property
    def total(self) -> int:
        return sum(self.repeats_by_dataset[p.dataset] for p in self.pairs)


def plan_spec(llm: LLM, plan: EvalPlan, *, command: Command = "eval", data_root: Path | None = None,
              settings: dict[str, Any] | None = None) -> RunSpec:
    description = {**plan.description, **({"data_root": data_root} if data_root is not None else {})}
    return build_spec(command, llm.settings, plan.prompt, description=description,
                      repeats=plan.repeats_by_dataset, knobs=settings)


async def run_plan(llm: LLM, plan: EvalPlan, out: Path, *, resume: bool = False, runner: Runner | None = None,
                   on_rollout: Callable[[Rollout, bool], None] | None = None,
                   baseline: Results | None = None, warn: Warn | None = None,
                   command: Command = "eval", data_root: Path | None = None,
                   settings: dict[str, Any] | None = None, max_failures: float | None = None) -> Results:
    """Run the plan into `out`. An existing run needs `resume` and the same spec (else nothing is touched).
    With `max_failures`, a run where more than that share of rollouts failed for infrastructure reasons is
    recorded as incomplete (the caller decides the exit)."""
    spec = plan_spec(llm, plan, command=command, data_root=data_root, settings=settings)
    own_runner = runner is None
    runner = runner or Runner(llm)
    if on_rollout is not None:
        runner.on_rollout = on_rollout
    try:
        with RunRecorder.open(out, spec, roles=EVAL_ROLES, resume=resume, ledger=llm.ledger,
                              warn=warn) as recorder:
            recorder.write_prompt(plan.prompt.text)
            store = recorder.store()
            rollouts: list[Rollout] = []
            for repeats, group in _group_by_repeats(plan).items():
                rollouts.extend(await runner.evaluate(plan.prompt, group, tuple(range(repeats)), store=store))
            results = aggregate(rollouts, usage=recorder.usage_totals())
            if baseline is not None:
                results = with_gain(results, baseline)
            cut = sum(1 for r in rollouts if any(CUT_THINKING in note for note in r.notes))
            if cut:
                recorder.add_warning(f"{cut} rollout(s) had a reply cut off inside <think> (no answer written); "
                                     "raise that role's max_tokens")
            if results.unreadable_verdicts:
                recorder.add_warning(f"{results.unreadable_verdicts} judge verdict(s) could not be read even when "
                                     "asked again; scored as the reference scores them (0, or Unsolved)")
            recorder.finish(results, incomplete=failure_message(results, max_failures)
                            if max_failures is not None else None)
    finally:
        if own_runner:
            await runner.aclose()
    return results


def _group_by_repeats(plan: EvalPlan) -> dict[int, list[Pair]]:
    groups: dict[int, list[Pair]] = {}
    for pair in plan.pairs:
        groups.setdefault(plan.repeats_by_dataset[pair.dataset], []).append(pair)
    return groups


def load_results(path: Path) -> Results:
    """Accept a run dir (its log.json, else an old results.json) or a results.json."""
    if path.is_dir():
        if (path / files.LOG).exists():
            log = read_runlog(path)
            if log.results is not None:
                return log.results
        path = path / files.LEGACY_RESULTS
    if not path.exists():
        raise NotFoundError(f"{path}: no results file (run `clue eval` into that directory first)")
    return Results.model_validate_json(path.read_text())
