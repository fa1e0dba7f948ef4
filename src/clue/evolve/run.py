"""The entry point the CLI calls: evolve an extraction prompt with one method, then compare seed and best
on the test pairs. Everything written goes through the run's `RunRecorder` (see clue.bench.run.files for
what a run directory holds).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.run import files
from clue.bench.run.record import RunSpec, build_spec
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.results import Results, aggregate, with_gain
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import Runner
from clue.bench.solvers.registry import SolverOptions, SolverRegistry
from clue.errors import BadInputError, NotFoundError
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult, Optimizer
from clue.evolve.replies import OptimizerRepliesError
from clue.evolve.watch import Reporter
from clue.llm.client import LLM
from clue.llm.types import ROLES
from clue.memory.prompts import ExtractionPrompt

# Imported lazily by module path: a method whose module is missing fails only when asked for.
METHODS: dict[str, str] = {
    "clue": "clue.evolve.clue_method:ClueOptimizer",
    "memevolve": "clue.evolve.memevolve:MemEvolveOptimizer",
    "gepa": "clue.evolve.gepa_method:GepaOptimizer",
    "ace": "clue.evolve.ace:AceOptimizer",
}


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


def _resumed_meter(budget: Budget, recorder: RunRecorder, store: RolloutStore, llm: LLM) -> BudgetMeter:
    """A meter that counts what earlier processes of this run already spent (from the usage journal and the
    stored rollouts), so a resumed run never gets its budget twice."""
    before = recorder.usage_totals()
    tokens = int(sum(u.get("total_tokens", 0) for u in before.values()))
    calls = int(sum(u.get("calls", 0) - u.get("cached_calls", 0) for u in before.values()))
    return BudgetMeter(budget, llm.ledger, rollouts_spent=len(store.rollouts),
                       tokens_spent=max(tokens, sum(r.tokens for r in store.rollouts.values())), calls_spent=calls)


def evolution_spec(llm: LLM, method: str, seed_prompt: ExtractionPrompt, settings: EvolveSettings,
                   budget: Budget, description: dict[str, Any], solvers: SolverOptions) -> RunSpec:
    """Every knob: the method's settings, the budget, and the solvers' options with each dataset's settings."""
    return build_spec("evolve", llm.settings, seed_prompt, description={"split": "train", **description},
                      method=method, knobs={"evolve": asdict(settings), "budget": asdict(budget),
                                            "solvers": solvers.as_dict()})


@dataclass(frozen=True)
class EvolutionJob:
    """One evolution run: the method and its seed prompt, the pairs it learns from (`train_pairs`) and the
    pairs seed and best are compared on afterwards (`test_pairs`), its knobs and budget, and its run dir.
    `resume=False` refuses a run directory that already holds a run; `resume=True` continues it. `description`
    (datasets, split, limit, data_root) goes into the spec."""

    method: str
    seed_prompt: ExtractionPrompt
    train_pairs: Sequence[Pair]
    test_pairs: Sequence[Pair]
    settings: EvolveSettings
    budget: Budget
    run_dir: Path
    resume: bool = False
    test_repeats: Sequence[int] = (0,)
    description: dict[str, Any] = field(default_factory=dict)
    solver_options: SolverOptions = field(default_factory=SolverOptions)


async def run_evolution(job: EvolutionJob, llm: LLM, *, runner: Runner | None = None,
                        reporter: Reporter | None = None,
                        warn: Callable[[str], None] | None = None) -> EvolutionOutcome:
    """Evolve the seed prompt on the train pairs within the budget, then evaluate seed and best on the test pairs.

    A resumed run reuses every finished rollout and step, and refuses (changing nothing) another method, seed,
    scope, model or decoding. `runner` executes rollouts (default: a local `Runner` over the dataset registry;
    another executor's, e.g. Ray tasks, or one with test lookups); it is closed when the run ends. The run dir
    is written here, by the recorder, whoever executes.
    """
    spec = evolution_spec(llm, job.method, job.seed_prompt, job.settings, job.budget, job.description,
                          job.solver_options)
    optimizer = load_optimizer(job.method)
    if reporter is not None and hasattr(optimizer, "reporter"):
        optimizer.reporter = reporter
    runner = runner or Runner(llm, solvers=SolverRegistry(job.solver_options))
    try:
        with RunRecorder.open(job.run_dir, spec, roles=ROLES, resume=job.resume, ledger=llm.ledger,
                              warn=warn) as recorder:
            store = recorder.store()
            meter = _resumed_meter(job.budget, recorder, store, llm) if job.resume \
                else BudgetMeter(job.budget, llm.ledger)
            harness = Harness(runner, store, meter, recorder=recorder)
            try:
                result = await optimizer.optimize(job.seed_prompt, list(job.train_pairs), harness, job.settings,
                                                  job.run_dir, job.resume)
            except OptimizerRepliesError as exc:
                recorder.record_unusable_replies(exc.unusable_replies)
                raise
            recorder.write_best_prompt(result.best.text)
            seed_results, best_results = await _compare_on_test(runner, recorder, job.seed_prompt, result.best,
                                                                job.test_pairs, job.test_repeats)
            usage = meter.summary()
            recorder.record_unusable_replies(result.unusable_replies)
            recorder.finish_evolution(seed_results, best_results, result.best.hash, usage,
                                      None if result.stopped_by == "finished" else result.stopped_by)
    finally:
        await runner.aclose()
    return EvolutionOutcome(result, seed_results, best_results, job.run_dir, usage)


async def _compare_on_test(runner: Runner, recorder: RunRecorder, seed: ExtractionPrompt, best: ExtractionPrompt,
                           test_pairs: Sequence[Pair], repeats: Sequence[int]) -> tuple[Results | None,
                                                                                        Results | None]:
    if not test_pairs:
        return None, None
    store = recorder.store(files.TEST_ROLLOUTS)
    seed_rollouts = await runner.evaluate(seed, test_pairs, repeats, store=store)
    best_rollouts = await runner.evaluate(best, test_pairs, repeats, store=store)
    usage = runner.llm.ledger.snapshot()
    seed_results = aggregate(seed_rollouts, usage=usage)
    return seed_results, with_gain(aggregate(best_rollouts, usage=usage), seed_results)
