"""Which solver runs which dataset, and where its memory goes: the reference's choice per dataset.

Solver modules are imported by path when first needed, so a solver whose module is missing (or whose
environment's optional package is not installed) affects only its own datasets. Datasets outside this
table (the built-in demo set, test worlds) get a `single_turn` solver with the memory in the system prompt.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clue.bench.data.datasets import NotRunnableError
from clue.bench.envs.base import MemoryPlacement
from clue.bench.envs.root import default_env_root
from clue.bench.solvers.base import Solver, SolverKind

if TYPE_CHECKING:
    from clue.bench.envs.pool import EnvPool


@dataclass(frozen=True)
class SolverChoice:
    kind: SolverKind
    memory_placement: MemoryPlacement
    scorer: str  # what the score reads, for `docs/solvers.md` and `clue datasets`


_CODE_ROUNDS = SolverChoice("code_rounds", "user", "final answer, checked by the dataset's rule")
_MCQ = SolverChoice("code_rounds", "user", "option letter")
SOLVERS: dict[str, SolverChoice] = {
    "membench-high": SolverChoice("single_turn", "user", "option letter"),
    "membench-low": SolverChoice("single_turn", "user", "option letter"),
    "longmemeval": SolverChoice("single_turn", "user", "LLM judge against the reference answer"),
    "prefeval": SolverChoice("single_turn", "system", "option letter"),
    "personamem-v2": SolverChoice("single_turn", "system", "option letter"),
    "GameOf24": _CODE_ROUNDS,
    "AIME": _CODE_ROUNDS,
    "MathEquationBalancer": _CODE_ROUNDS,
    "MMLU_Pro_Physics": _MCQ,
    "MMLU_Pro_Engineering": _MCQ,
    "GPQA_Diamond": _MCQ,
    "bigcodebench": SolverChoice("code_tests", "system", "unit tests, all must pass"),
    "alfworld": SolverChoice("episode", "system", "environment success"),
    "fever": SolverChoice("episode", "system", "environment success"),
    "pddl": SolverChoice("episode", "system", "environment success"),
    "babyai": SolverChoice("episode", "user", "environment success"),
    "scienceworld": SolverChoice("episode", "user", "environment success"),
    "toolbench": SolverChoice("episode", "system", "LLM judge (solved 1, unsure 0.5)"),
    "toy": SolverChoice("episode", "system", "environment success"),
}
GENERIC = SolverChoice("single_turn", "system", "the task's own scorer")

# Solvers built by other modules, by import path.
SOLVER_CLASSES: dict[SolverKind, str] = {
    "code_rounds": "clue.bench.solvers.code_rounds:CodeRoundsSolver",
    "code_tests": "clue.bench.solvers.code_tests:CodeTestsSolver",
}


def solver_choice(dataset: str) -> SolverChoice:
    return SOLVERS.get(dataset, GENERIC)


@dataclass
class SolverOptions:
    """Knobs of the solvers a command may set (they reach the run log's spec)."""

    env_root: Path = field(default_factory=lambda: default_env_root())
    pool_size: int | None = None  # live environments per agentic dataset; None: the EnvSpec's
    step_cap: int | None = None  # None: the dataset's cap

    def as_dict(self) -> dict[str, object]:
        return {"env_root": str(self.env_root), "pool_size": self.pool_size, "step_cap": self.step_cap}


@dataclass
class SolverRegistry:
    """Builds each dataset's solver once; owns the environment pools, closed by `aclose`."""

    options: SolverOptions = field(default_factory=SolverOptions)
    _solvers: dict[str, Solver] = field(default_factory=dict)
    _pools: list[EnvPool] = field(default_factory=list)

    def __call__(self, dataset: str) -> Solver:
        solver = self._solvers.get(dataset)
        if solver is None:
            solver = self._solvers[dataset] = self._build(dataset)
        return solver

    def _build(self, dataset: str) -> Solver:
        choice = solver_choice(dataset)
        if choice.kind == "single_turn":
            from clue.bench.solvers.single_turn import SingleTurnSolver

            return SingleTurnSolver(memory_placement=choice.memory_placement)
        if choice.kind == "episode":
            return self._episode_solver(dataset)
        path = SOLVER_CLASSES[choice.kind]
        module_name, _, class_name = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise NotRunnableError(f"dataset {dataset} needs the {choice.kind} solver, which is not available "
                                   f"({exc})") from None
        solver_class = getattr(module, class_name)
        # code_tests reads its tasks (and their unit tests) from the env root; code_rounds needs nothing.
        solver: Solver = solver_class(env_root=self.options.env_root) if choice.kind == "code_tests" \
            else solver_class()
        return solver

    def _episode_solver(self, dataset: str) -> Solver:
        from clue.bench.envs.pool import EnvPool
        from clue.bench.solvers.episode import EpisodeSolver

        if dataset == "toy":
            from clue.bench.envs.toy import SPEC as spec
        else:
            from clue.bench.envs.registry import env_spec

            try:
                spec = env_spec(dataset)
            except (KeyError, ModuleNotFoundError) as exc:
                raise NotRunnableError(f"dataset {dataset}: no environment is available ({exc})") from None
        missing = spec.missing(self.options.env_root)
        if missing:
            raise NotRunnableError(f"dataset {dataset}: {missing}")
        pool = EnvPool(spec, self.options.env_root, size=self.options.pool_size)
        self._pools.append(pool)
        return EpisodeSolver(spec, pool, step_cap=self.options.step_cap)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, []
        for pool in pools:
            await pool.aclose()
