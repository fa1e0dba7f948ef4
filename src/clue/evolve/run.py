"""The entry point the CLI calls: evolve an extraction prompt with one method, then compare seed and best
on the test pairs.

Run directory layout:
  rollouts.jsonl       every training rollout (the harness's cache; a resumed run redoes none)
  state.json           the optimizer's state, plus the budget usage
  lineage.json         per-round record (CluE / MemEvolve)
  best_prompt.txt      the best prompt so far
  test_rollouts.jsonl  the final seed-vs-best evaluation on the test pairs
  usage.jsonl          one line per LLM call (usage survives a kill; budgets resume from it)
  log.json             the versioned run log: spec, status, usage, results, per-round progress
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.run.evaluation import RunDirError
from clue.bench.run.results import Results, aggregate, with_gain
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runlog import (
    RUNLOG,
    EvolutionLog,
    RunLog,
    RunSpec,
    SamplesRef,
    check_resume,
    clue_version,
    now,
    read_runlog,
    role_specs,
    write_runlog,
)
from clue.bench.run.runner import InfoLookup, Runner, TaskLookup
from clue.bench.solvers.registry import SolverOptions, SolverRegistry
from clue.errors import BadInputError, ClueError, NotFoundError
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult, Optimizer
from clue.evolve.replies import OptimizerRepliesError
from clue.evolve.reporting import Reporter
from clue.evolve.state import merge_into_state_json, write_atomic
from clue.llm.client import LLM
from clue.llm.ledger import UsageJournal, journal_totals
from clue.llm.types import ROLES
from clue.memory.prompts import ExtractionPrompt

USAGE_JOURNAL = "usage.jsonl"



# Imported lazily by module path: a method whose module is missing fails only when asked for.
METHODS: dict[str, str] = {
    "clue": "clue.evolve.clue_method:ClueOptimizer",
    "memevolve": "clue.evolve.memevolve:MemEvolveOptimizer",
    "gepa": "clue.evolve.gepa_method:GepaOptimizer",
    "ace": "clue.evolve.ace:AceOptimizer",
}


def check_same_method(run_dir: Path, method: str) -> None:
    """A run is resumed by the method that started it; anything else would misread its state.

    The method is read from state.json, or else from the run log's spec.
    """
    saved: Any = None
    for name in ("state.json", "log.json"):
        path = run_dir / name
        if saved is None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                saved = data.get("method") if name == "state.json" else (data.get("spec") or {}).get("method")
            except (ValueError, AttributeError):
                raise BadInputError(f"{path}: unreadable; cannot resume this run") from None
    if saved is not None and saved != method:
        raise BadInputError(f"{run_dir}: --resume with --method {method}, but this run was started "
                            f"with --method {saved}")


def load_optimizer(method: str) -> Optimizer:
    """A fresh optimizer for `method` (each class has a no-argument constructor)."""
    if method not in METHODS:
        raise BadInputError(f"--method {method}: unknown (known: {', '.join(METHODS)})")
    module_name, _, class_name = METHODS[method].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotFoundError(f"method {method!r} is not available: {exc}") from exc
    optimizer: Optimizer = getattr(module, class_name)()
    return optimizer


@dataclass
class EvolutionOutcome:
    optimization: OptimizationResult
    seed: Results | None  # seed prompt on the test pairs (None without test pairs)
    best: Results | None  # best prompt on the test pairs, with its relative gain over the seed
    run_dir: Path
    budget: dict[str, int | None] = field(default_factory=dict)


def _previous_tokens(state_path: Path, store: RolloutStore) -> int:
    saved = 0
    if state_path.exists():
        try:
            data: Any = json.loads(state_path.read_text(encoding="utf-8"))
            saved = int((data.get("budget") or {}).get("tokens_spent") or 0) if isinstance(data, dict) else 0
        except (ValueError, TypeError, AttributeError):
            saved = 0
    return max(saved, sum(r.tokens for r in store.rollouts.values()))


async def run_evolution(method: str, seed_prompt: ExtractionPrompt, train_pairs: Sequence[Pair],
                        test_pairs: Sequence[Pair], llm: LLM, settings: EvolveSettings, budget: Budget,
                        run_dir: Path, *, resume: bool = False, reporter: Reporter | None = None,
                        tasks: TaskLookup | None = None, info: InfoLookup | None = None,
                        test_repeats: Sequence[int] = (0,), concurrency: int = 32,
                        warn: Callable[[str], None] | None = None,
                        description: dict[str, Any] | None = None,
                        solver_options: SolverOptions | None = None,
                        runner: Runner | None = None) -> EvolutionOutcome:
    """Evolve `seed_prompt` on `train_pairs` within `budget`, then evaluate seed and best on `test_pairs`.

    `resume=False` refuses a run directory that already holds a run (state.json); `resume=True` continues
    it, reusing every finished rollout and step, and refuses other models or decoding than the run's.
    `tasks`/`info` override the dataset registry (tests). `description` (datasets, split, data_root) goes
    into the run log's spec.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    if not resume and state_path.exists():
        raise RunDirError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        check_same_method(run_dir, method)
    spec = evolution_spec(llm, method, seed_prompt, settings, budget, description or {})
    previous = check_resume(run_dir, spec, ROLES) if resume else None
    if previous is None and (run_dir / RUNLOG).exists():
        previous = read_runlog(run_dir)  # the command recorded its fuller spec before calling us: keep it
    log = RunLog(started=previous.started if previous else now(), spec=previous.spec if previous else spec,
                 evolution=previous.evolution if previous and previous.evolution else EvolutionLog(method=method))
    optimizer = load_optimizer(method)
    if reporter is not None and hasattr(optimizer, "reporter"):
        optimizer.reporter = reporter
    lookups: dict[str, Any] = {k: v for k, v in (("tasks", tasks), ("info", info)) if v is not None}
    # `runner`: another executor's (e.g. Ray tasks); the run dir is still written here.
    runner = runner or Runner(llm, concurrency=concurrency,
                              solvers=SolverRegistry(solver_options or SolverOptions()), **lookups)
    store = RolloutStore(run_dir / "rollouts.jsonl")
    log.warnings = list(store.skipped_lines)
    for line in store.skipped_lines:
        if warn is not None:
            warn(line)
    write_runlog(run_dir, log)
    before = journal_totals(run_dir / USAGE_JOURNAL) if resume else {}
    journal = UsageJournal(run_dir / USAGE_JOURNAL)
    llm.ledger.listeners.append(journal)
    test_store: RolloutStore | None = None
    try:
        meter = BudgetMeter(budget, llm.ledger, rollouts_spent=len(store.rollouts),
                            tokens_spent=max(_previous_tokens(state_path, store), _tokens(before)) if resume else 0,
                            calls_spent=_calls(before))
        harness = Harness(runner, store, meter)
        result = await optimizer.optimize(seed_prompt, list(train_pairs), harness, settings, run_dir, resume)
        usage = meter.summary()
        write_atomic(run_dir / "best_prompt.txt", result.best.text)
        merge_into_state_json(state_path, {"budget": usage, "method": method})
        seed_results: Results | None = None
        best_results: Results | None = None
        if test_pairs:
            test_store = RolloutStore(run_dir / "test_rollouts.jsonl")
            seed_rollouts = await runner.evaluate(seed_prompt, test_pairs, test_repeats, store=test_store)
            best_rollouts = await runner.evaluate(result.best, test_pairs, test_repeats, store=test_store)
            seed_results = aggregate(seed_rollouts, usage=llm.ledger.snapshot())
            best_results = with_gain(aggregate(best_rollouts, usage=llm.ledger.snapshot()), seed_results)
        log.status = "finished"
        log.results = {"seed": seed_results.model_dump() if seed_results else None,
                       "best": best_results.model_dump() if best_results else None,
                       "best_hash": result.best.hash, "budget": usage}
        current = _current_evolution(run_dir, log)
        log.evolution = current.model_copy(update={"stopped_by": result.stopped_by,
                                                    "unusable_replies": result.unusable_replies})
        return EvolutionOutcome(result, seed_results, best_results, run_dir, usage)
    except BaseException as exc:
        log.evolution = _current_evolution(run_dir, log)
        if isinstance(exc, OptimizerRepliesError):
            log.evolution.unusable_replies = exc.unusable_replies
        log.status = "interrupted" if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError) else "failed"
        log.error = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise
    finally:
        llm.ledger.listeners.remove(journal)
        journal.close()
        store.close()
        await runner.aclose()
        if test_store is not None:
            test_store.close()
        log.usage, log.finished = journal_totals(run_dir / USAGE_JOURNAL), now()
        log.samples = SamplesRef(path="rollouts.jsonl", count=len(store.rollouts),
                                 failed=sum(1 for r in store.rollouts.values() if r.infra_failure))
        write_runlog(run_dir, log)


def evolution_spec(llm: LLM, method: str, seed_prompt: ExtractionPrompt, settings: EvolveSettings,
                   budget: Budget, description: dict[str, Any]) -> RunSpec:
    return RunSpec(clue_version=clue_version(), command="evolve", roles=role_specs(llm.settings),
                   data_root=description.get("data_root"), split=description.get("split", "train"),
                   datasets=list(description.get("datasets", [])), limit=description.get("limit"),
                   prompt_name=seed_prompt.name, prompt_hash=seed_prompt.hash, prompt_text=seed_prompt.text,
                   method=method, settings={"evolve": asdict(settings), "budget": asdict(budget)})


def _current_evolution(run_dir: Path, log: RunLog) -> EvolutionLog:
    """The progress the optimizer wrote into log.json meanwhile (`append_progress`), kept on the final write."""
    try:
        written = read_runlog(run_dir).evolution
    except ClueError:
        written = None
    return written or log.evolution or EvolutionLog(method=log.spec.method or "")


def _tokens(usage: dict[str, dict[str, float]]) -> int:
    return int(sum(u.get("total_tokens", 0) for u in usage.values()))


def _calls(usage: dict[str, dict[str, float]]) -> int:
    return int(sum(u.get("calls", 0) - u.get("cached_calls", 0) for u in usage.values()))
