"""Builds each dataset's solver from its entry (`clue.bench.data.entries`): the solver kind, where the
memory goes, and the solver settings (max tokens, stop strings, examples, step cap), with a user's
overrides applied.

Solver modules are imported by path when first needed, so a solver whose module is missing (or whose
environment's optional package is not installed) affects only its own datasets. Datasets outside the
registry (the built-in demo set, test worlds) get a `single_turn` solver with the memory in the system prompt.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clue.bench.data.datasets import find_dataset
from clue.bench.data.entry import NotRunnableError, SolverKind, SolverSettings
from clue.bench.envs.root import default_env_root
from clue.bench.solvers.base import Solver
from clue.bench.solvers.common import ReplyLimits

if TYPE_CHECKING:
    from clue.bench.envs.pool import EnvPool

GENERIC = SolverSettings("single_turn", "system")  # datasets outside the registry (the demo set)

# Solvers built by other modules, by import path.
SOLVER_CLASSES: dict[SolverKind, str] = {
    "code_rounds": "clue.bench.solvers.code_rounds:CodeRoundsSolver",
    "code_tests": "clue.bench.solvers.code_tests:CodeTestsSolver",
}


@dataclass
class SolverOptions:
    """Knobs of the solvers a command may set (they reach the run log's spec).

    `overrides`: per dataset (registry name), solver settings that replace the entry's, e.g.
    `{"AIME": {"max_tokens": 4096}}`; `datasets`: the datasets of the run, whose effective settings
    `as_dict` records."""

    env_root: Path = field(default_factory=lambda: default_env_root())
    pool_size: int | None = None  # live environments per agentic dataset; None: the EnvSpec's
    step_cap: int | None = None  # one cap for every agentic dataset; None: each dataset's own
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    datasets: Iterable[str] = ()

    def settings_for(self, dataset: str) -> SolverSettings:
        """The dataset's solver settings: its entry's, with this run's overrides."""
        entry = find_dataset(dataset)
        if entry is None:
            return GENERIC
        changes = dict(self.overrides.get(entry.name, {}))
        if self.step_cap is not None and entry.solver.step_cap is not None:
            changes.setdefault("step_cap", self.step_cap)
        return entry.with_solver(**changes).solver if changes else entry.solver

    def as_dict(self) -> dict[str, object]:
        return {"env_root": str(self.env_root), "pool_size": self.pool_size, "step_cap": self.step_cap,
                "datasets": {name: self.settings_for(name).as_dict() for name in self.datasets}}


def solver_settings(dataset: str) -> SolverSettings:
    """A dataset's solver settings as its entry gives them (GENERIC outside the registry)."""
    entry = find_dataset(dataset)
    return entry.solver if entry is not None else GENERIC


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
        settings = self.options.settings_for(dataset)
        reply = ReplyLimits(settings.max_tokens if find_dataset(dataset) else None, settings.stop)
        if settings.kind == "single_turn":
            from clue.bench.solvers.single_turn import SingleTurnSolver

            return SingleTurnSolver(memory_placement=settings.memory_placement, reply=reply)
        if settings.kind == "episode":
            return self._episode_solver(dataset, settings, reply)
        path = SOLVER_CLASSES[settings.kind]
        module_name, _, class_name = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise NotRunnableError(f"dataset {dataset} needs the {settings.kind} solver, which is not available "
                                   f"({exc})") from None
        solver_class = getattr(module, class_name)
        # code_tests reads its tasks (and their unit tests) from the env root; code_rounds needs nothing.
        solver: Solver = solver_class(env_root=self.options.env_root, reply=reply) \
            if settings.kind == "code_tests" else solver_class(reply=reply)
        return solver

    def _episode_solver(self, dataset: str, settings: SolverSettings, reply: ReplyLimits) -> Solver:
        from clue.bench.envs.pool import EnvPool
        from clue.bench.envs.registry import env_spec
        from clue.bench.solvers.episode import EpisodeSolver

        try:
            spec = env_spec(dataset)
        except (KeyError, ModuleNotFoundError) as exc:
            raise NotRunnableError(f"dataset {dataset}: no environment is available ({exc})") from None
        missing = spec.missing(self.options.env_root)
        if missing:
            raise NotRunnableError(f"dataset {dataset}: {missing}")
        pool = EnvPool(spec, self.options.env_root, size=self.options.pool_size)
        self._pools.append(pool)
        examples = settings.examples if settings.examples is not None else 1
        return EpisodeSolver(spec, pool, step_cap=settings.step_cap, reply=reply, examples=examples)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, []
        for pool in pools:
            await pool.aclose()
