"""What one dataset is, in one place (inspect_ai's `Task` is the model): its files, how a pair is built,
the solver that runs it with that solver's settings, the scorer, the repeats rule and what it needs.

Every BEHEMOTH dataset is one `DatasetEntry` in `clue.bench.data.entries`; the registry
(`clue.bench.data.datasets`) collects them. Solvers, scorers and environments are named by import path
and imported only when needed, so a missing optional package affects only its own datasets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from clue.bench.data.records import TargetRecord
from clue.bench.envs.base import MemoryPlacement
from clue.errors import BadInputError, NotFoundError

Category = Literal["personalization", "problem-solving", "agentic"]
CATEGORIES: tuple[Category, ...] = ("personalization", "problem-solving", "agentic")
SolverKind = Literal["single_turn", "code_rounds", "episode", "code_tests"]
# What a dataset needs beyond its data files: nothing, an environment (`DatasetEntry.env`) or the sandboxed
# unit-test runner. Whether it can run depends on what is installed (`datasets.missing_resources`).
Resources = Literal["none", "environment", "code_tests"]
DEFAULT_SOLVER_MAX_TOKENS = 512


class UnknownDatasetError(NotFoundError):
    """A dataset name that is not in the registry; the message lists the known names."""


class NotRunnableError(BadInputError):
    """A known dataset that this package cannot evaluate yet; the message says why."""


@dataclass(frozen=True)
class SolverSettings:
    """How the solver runs this dataset. Recorded in the run spec; overridable per dataset (CLI, clue.toml).

    `max_tokens` and `stop` go into every solver request of the dataset. `examples` is the number of
    worked example episodes in an agent's prompt (0 or 1; None where the solver has no examples);
    `step_cap` the most agent steps of an episode (None where the solver is not an episode).
    """

    kind: SolverKind
    memory_placement: MemoryPlacement
    max_tokens: int = DEFAULT_SOLVER_MAX_TOKENS
    stop: tuple[str, ...] = ()
    examples: int | None = None
    step_cap: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


@dataclass(frozen=True)
class ScorerChoice:
    """The dataset's task (query + score), by import path `module:Class`, and a line saying what it reads.

    `judge_max_tokens`: the reply limit of the judge calls of a judge-scored task (None: the judge role's).
    """

    task: str
    description: str
    judge_max_tokens: int | None = None


@dataclass(frozen=True)
class RepeatsRule:
    """How many runs a test source gets (the protocol counts test SOURCES, not pairs).

    `runs` by default; once only where the dataset has `single_run_from` or more test sources, or always
    (`single_run`); never more than `max_runs`. An explicit request replaces `runs`; the other limits hold,
    as in the reference.
    """

    runs: int = 3
    max_runs: int | None = None
    single_run_from: int | None = 200
    single_run: bool = False

    def runs_for(self, test_sources: int, requested: int | None = None) -> int:
        if self.single_run or (self.single_run_from is not None and test_sources >= self.single_run_from):
            return 1
        runs = requested if requested is not None else self.runs
        return min(runs, self.max_runs) if self.max_runs is not None else runs


@dataclass(frozen=True)
class DatasetEntry:
    """One BEHEMOTH dataset.

    - `subsets`: directory names under `train/` (in-distribution) or `ood_test/` (OOD), scored together.
    - pairs: each source with its FIRST target, or at test time with EVERY target it lists where
      `all_targets_at_test` (the personalization sets, as the reference evaluates them); targets are
      validated against `target_model`.
    - `env`: the environment's module path (agentic sets); `resources` says what the dataset needs.
    - `rank`: its place in listings within its category and split kind.
    """

    name: str
    category: Category
    ood: bool
    subsets: tuple[str, ...]
    target_model: type[TargetRecord]
    solver: SolverSettings
    scorer: ScorerChoice
    repeats: RepeatsRule = field(default_factory=RepeatsRule)
    all_targets_at_test: bool = False
    resources: Resources = "none"
    env: str | None = None
    rank: int = 0
    listed: bool = True  # False: a test world, not part of BEHEMOTH (hidden from `clue datasets`, `all`)

    @property
    def split_dir(self) -> str:
        return "ood_test" if self.ood else "train"

    def solver_settings(self) -> dict[str, Any]:
        """The solver settings as they go into the run spec."""
        return self.solver.as_dict()

    def with_solver(self, **changes: Any) -> DatasetEntry:
        """This entry with some solver settings replaced (a user's override); unknown names are refused."""
        known = set(SolverSettings.__dataclass_fields__) - {"kind", "memory_placement"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadInputError(f"dataset {self.name}: unknown solver setting {unknown[0]!r} "
                                f"(known: {', '.join(sorted(known))})")
        return replace(self, solver=replace(self.solver, **changes))
