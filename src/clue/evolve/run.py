"""The entry point the CLI calls: evolve an extraction prompt with one method, then compare seed and best
on the test pairs.

Run directory layout:
  rollouts.jsonl       every training rollout (the harness's cache; a resumed run redoes none)
  state.json           the optimizer's state, plus the budget usage
  lineage.json         per-round record (CluE / MemEvolve)
  best_prompt.txt      the best prompt so far
  test_rollouts.jsonl  the final seed-vs-best evaluation on the test pairs
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.evaluation import RunDirError
from clue.bench.records import Pair
from clue.bench.results import Results, aggregate, with_gain
from clue.bench.rollouts import RolloutStore
from clue.bench.runner import InfoLookup, Runner, TaskLookup
from clue.errors import BadInputError
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult, Optimizer
from clue.evolve.reporting import Reporter
from clue.evolve.state import merge_into_state_json, write_atomic
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt

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
        raise ValueError(f"method {method!r} is not available: {exc}") from exc
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
                        test_repeats: Sequence[int] = (0,), concurrency: int = 32) -> EvolutionOutcome:
    """Evolve `seed_prompt` on `train_pairs` within `budget`, then evaluate seed and best on `test_pairs`.

    `resume=False` refuses a run directory that already holds a run (state.json); `resume=True` continues
    it, reusing every finished rollout and step. `tasks`/`info` override the dataset registry (tests).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    if not resume and state_path.exists():
        raise RunDirError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        check_same_method(run_dir, method)
    optimizer = load_optimizer(method)
    if reporter is not None and hasattr(optimizer, "reporter"):
        optimizer.reporter = reporter
    lookups: dict[str, Any] = {k: v for k, v in (("tasks", tasks), ("info", info)) if v is not None}
    runner = Runner(llm, concurrency=concurrency, **lookups)
    store = RolloutStore(run_dir / "rollouts.jsonl")
    test_store: RolloutStore | None = None
    try:
        meter = BudgetMeter(budget, llm.ledger, rollouts_spent=len(store.rollouts),
                            tokens_spent=_previous_tokens(state_path, store) if resume else 0)
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
        return EvolutionOutcome(result, seed_results, best_results, run_dir, usage)
    finally:
        store.close()
        if test_store is not None:
            test_store.close()
