"""The 18 BEHEMOTH datasets: category, in-distribution or OOD, file-level subsets, runnable or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clue.bench.records import (
    AgenticTarget,
    BigCodeBenchTarget,
    ChoiceTarget,
    LongMemEvalTarget,
    PrefEvalTarget,
    ProblemTarget,
    TargetRecord,
    ToolBenchTarget,
)

Category = Literal["personalization", "problem-solving", "agentic"]
CATEGORIES: tuple[Category, ...] = ("personalization", "problem-solving", "agentic")

SOLVER_MODEL_DIR = "openai/Qwen3-32B"  # every released file sits under <subset>/openai/Qwen3-32B/


class UnknownDatasetError(ValueError):
    """A dataset name that is not in the registry; the message lists the known names."""


class NotRunnableError(ValueError):
    """A known dataset that this package cannot evaluate yet; the message says why."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    category: Category
    ood: bool
    subsets: tuple[str, ...]  # directory names under train/ or ood_test/; scored together as one dataset
    target_model: type[TargetRecord]
    runnable: bool = True
    not_runnable_reason: str = ""

    @property
    def split_dir(self) -> str:
        return "ood_test" if self.ood else "train"


_AGENT_REASON = "agentic: needs an interactive {env} environment, which clue does not ship yet"

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
    # `clue.bench.bigcodebench.missing` says what a machine lacks for it (tasks file, sandbox, packages, data).
    DatasetSpec(
        "bigcodebench", "problem-solving", False, ("bigcodebench",), BigCodeBenchTarget, runnable=False,
        not_runnable_reason="bigcodebench is scored by running unit tests on generated code (the code_tests "
        "solver), which the runner does not call yet; the public BEHEMOTH release has no bigcodebench sources "
        "or targets",
    ),
    DatasetSpec("GPQA_Diamond", "problem-solving", True, ("GPQA_Diamond",), ProblemTarget),
    # agentic
    *(
        DatasetSpec(name, "agentic", False, (name,), AgenticTarget, runnable=False,
                    not_runnable_reason=_AGENT_REASON.format(env=env))
        for name, env in (("alfworld", "ALFWorld"), ("fever", "FEVER Wikipedia-search"), ("pddl", "PDDL"),
                          ("babyai", "BabyAI"), ("scienceworld", "ScienceWorld"))
    ),
    DatasetSpec(
        "toolbench", "agentic", True, ("toolbench",), ToolBenchTarget, runnable=False,
        not_runnable_reason="toolbench needs the StableToolBench API simulator and a multi-step tool agent, "
        "which clue does not ship yet",
    ),
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


def runnable_datasets() -> list[DatasetSpec]:
    return [spec for spec in DATASETS if spec.runnable]
