"""The 18 BEHEMOTH datasets: category, in-distribution or OOD, file-level subsets, what they need to run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clue.bench.data.records import (
    AgenticTarget,
    BigCodeBenchTarget,
    ChoiceTarget,
    LongMemEvalTarget,
    PrefEvalTarget,
    ProblemTarget,
    TargetRecord,
    ToolBenchTarget,
)
from clue.errors import BadInputError, NotFoundError

Category = Literal["personalization", "problem-solving", "agentic"]
CATEGORIES: tuple[Category, ...] = ("personalization", "problem-solving", "agentic")

SOLVER_MODEL_DIR = "openai/Qwen3-32B"  # every released file sits under <subset>/openai/Qwen3-32B/


class UnknownDatasetError(NotFoundError):
    """A dataset name that is not in the registry; the message lists the known names."""


class NotRunnableError(BadInputError):
    """A known dataset that this package cannot evaluate yet; the message says why."""


Resources = Literal["none", "environment", "code_tests"]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    category: Category
    ood: bool
    subsets: tuple[str, ...]  # directory names under train/ or ood_test/; scored together as one dataset
    target_model: type[TargetRecord]
    # What it needs beyond the data root: nothing, an environment (`clue.bench.envs.registry`, keyed by the
    # lower-cased name) or the sandboxed unit-test runner. Whether it can run depends on what is installed.
    resources: Resources = "none"

    @property
    def split_dir(self) -> str:
        return "ood_test" if self.ood else "train"

    @property
    def env(self) -> str | None:
        """The environment registry name of an environment-backed dataset."""
        return self.name.lower() if self.resources == "environment" else None

    @property
    def runnable(self) -> bool:
        """Whether it can run with the default env root (see `missing_resources` for another root)."""
        return missing_resources(self) is None

    @property
    def not_runnable_reason(self) -> str:
        return missing_resources(self) or ""


def missing_resources(spec: DatasetSpec, env_root: Path | None = None, data_root: Path | None = None) -> str | None:
    """One line saying what `spec` lacks to run (package, Java, game files, cache directory), or None."""
    if spec.resources == "none":
        return None
    from clue.bench.envs.root import default_env_root

    root = env_root if env_root is not None else default_env_root()
    if spec.resources == "code_tests":
        try:
            from clue.bench.sandbox.bigcodebench import missing as code_tests_missing
        except ImportError:
            return f"{spec.name}: the sandboxed unit-test runner is not part of this build"
        from clue.bench.data.loader import default_data_root

        # The release's pairs count too: without sources and targets there is nothing to evaluate.
        reason: str | None = code_tests_missing(root, data_root=data_root or default_data_root())
        return reason
    from clue.bench.envs.registry import ENV_MODULES, env_spec

    module = ENV_MODULES.get(spec.env or "")
    if module is None:
        return f"{spec.name}: no environment is registered for it"
    try:
        env = env_spec(spec.env or "")
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return f"{spec.name}: its environment is not part of this build"
        return f"{spec.name} needs the Python package {exc.name!r} (pip install 'clue[agentic]')"
    except ImportError as exc:
        return f"{spec.name}: its environment cannot be imported ({str(exc).splitlines()[0]})"
    return env.missing(root)


_AGENTIC = (
    ("alfworld", False, AgenticTarget), ("fever", False, AgenticTarget), ("pddl", False, AgenticTarget),
    ("babyai", False, AgenticTarget), ("scienceworld", False, AgenticTarget), ("toolbench", True, ToolBenchTarget),
)

DATASETS: tuple[DatasetSpec, ...] = (
    # personalization
    DatasetSpec("membench-high", "personalization", False, ("membench-high",), ChoiceTarget),
    DatasetSpec("membench-low", "personalization", False, ("membench-low",), ChoiceTarget),
    DatasetSpec("personamem-v2", "personalization", False, ("personamem-v2-val",), ChoiceTarget),
    DatasetSpec("prefeval", "personalization", False, ("prefeval-mcq",), PrefEvalTarget),
    DatasetSpec("longmemeval", "personalization", True, ("longmemeval",), LongMemEvalTarget),
    # problem-solving
    DatasetSpec("GameOf24", "problem-solving", False, ("GameOf24",), ProblemTarget),
    DatasetSpec("AIME", "problem-solving", False, ("AIME_2024", "AIME_2025", "AIME_2020_2024"),
                ProblemTarget),
    DatasetSpec("MMLU_Pro_Physics", "problem-solving", False, ("MMLU_Pro_Physics",), ProblemTarget),
    DatasetSpec("MMLU_Pro_Engineering", "problem-solving", False, ("MMLU_Pro_Engineering",), ProblemTarget),
    DatasetSpec("MathEquationBalancer", "problem-solving", False, ("MathEquationBalancer",), ProblemTarget),
    # `clue.bench.sandbox.bigcodebench.missing` says what a machine lacks for it (tasks file, sandbox, packages).
    DatasetSpec("bigcodebench", "problem-solving", False, ("bigcodebench",), BigCodeBenchTarget,
                resources="code_tests"),
    DatasetSpec("GPQA_Diamond", "problem-solving", True, ("GPQA_Diamond",), ProblemTarget),
    # agentic
    *(DatasetSpec(name, "agentic", ood, (name,), model, resources="environment") for name, ood, model in _AGENTIC),
)

_BY_KEY: dict[str, DatasetSpec] = {spec.name.lower(): spec for spec in DATASETS}
# Single-file datasets may also be named by their directory (e.g. "prefeval-mcq"). AIME's subsets are not
# aliases: a subset is not a dataset and must not be scored alone by accident.
_BY_KEY.update({spec.subsets[0].lower(): spec for spec in DATASETS if len(spec.subsets) == 1})


def dataset_names() -> list[str]:
    return [spec.name for spec in DATASETS]


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name (case-insensitive)."""
    spec = _BY_KEY.get(name.strip().lower())
    if spec is None:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    return spec


def runnable_datasets(env_root: Path | None = None) -> list[DatasetSpec]:
    return [spec for spec in DATASETS if missing_resources(spec, env_root) is None]
