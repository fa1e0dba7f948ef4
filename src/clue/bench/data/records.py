"""Typed records for BEHEMOTH files. Validation errors name the field, so a bad line is reported precisely."""

from __future__ import annotations

import ast
import re
import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from clue.memory.sources import Conversation, Trajectory, Turn, trajectory_from_turns

__all__ = ["Turn"]  # re-exported: records and sources share one turn type


def _maybe_literal(value: Any) -> Any:
    """The public release sometimes stores lists as python-literal strings; accept both forms."""
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"not a list literal: {value[:60]!r}") from exc
    return value


_LETTER = re.compile(r"^\(?([A-Za-z])\)?$")


def _option_letter(value: Any) -> Any:
    """Normalise a correct-option marker such as "b", "(B)" or " B " to "B"."""
    if isinstance(value, str):
        match = _LETTER.match(value.strip())
        if match is None:
            raise ValueError(f"not an option letter: {value[:20]!r}")
        return match.group(1).upper()
    return value


def first_validation_error(exc: ValidationError) -> str:
    """One line naming the first failing field, e.g. "choices: Input should be a valid dictionary"."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "record"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


class SourceRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    task_main: str = ""
    messages: list[Turn]
    target_ids: list[int]
    metadata: dict[str, Any] = {}

    _literal_messages = field_validator("messages", mode="before")(_maybe_literal)
    _literal_targets = field_validator("target_ids", mode="before")(_maybe_literal)

    @field_validator("target_ids")
    @classmethod
    def _at_least_one_target(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("target_ids is empty")
        return value


class SourceOutcome(BaseModel):
    """How an agentic source trajectory ended, from its metadata (released as python-literal strings)."""

    model_config = ConfigDict(frozen=True)
    success: bool
    reward: float

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> SourceOutcome | None:
        """The outcome in a source's metadata, or None when it has no readable `success` and `reward`."""
        values: dict[str, Any] = {}
        for name in ("success", "reward"):
            value = metadata.get(name)
            if isinstance(value, str):
                try:
                    value = ast.literal_eval(value.strip())
                except (ValueError, SyntaxError):
                    return None
            values[name] = value
        success, reward = values["success"], values["reward"]
        if not isinstance(success, bool) or not isinstance(reward, int | float) or isinstance(reward, bool):
            return None
        return cls(success=success, reward=float(reward))


class Pair(BaseModel):
    """One evaluation unit: a source conversation and the target query its memory should help with."""

    model_config = ConfigDict(frozen=True)
    dataset: str  # registry name, e.g. "AIME"
    subset: str  # file-level name, e.g. "AIME_2024"; equals `dataset` for single-file sets
    source_id: int
    target_id: int
    source_messages: list[Turn]
    target: dict[str, Any]  # the target line, already validated against the dataset's target model
    source_outcome: SourceOutcome | None = None  # agentic sources: how the source trajectory ended
    source_kind: Literal["conversation", "trajectory"] = "conversation"  # trajectory: an agentic source

    @property
    def key(self) -> str:
        return f"{self.subset}:{self.source_id}:{self.target_id}"

    @property
    def source(self) -> Conversation | Trajectory:
        """The typed source; an agentic transcript that does not parse as a trajectory stays a conversation."""
        if self.source_kind == "trajectory":
            parsed = trajectory_from_turns(self.source_messages)
            if parsed is not None:
                return parsed
        return Conversation(turns=list(self.source_messages))


# ---------------------------------------------------------------------------------------------------------
# Targets: one model per dataset family. Unknown fields are kept so nothing in a line is lost.


class TargetRecord(BaseModel):
    """Fields every target line has."""

    model_config = ConfigDict(extra="allow")
    id: int
    task_main: str = ""


class ChoiceTarget(TargetRecord):
    """Multiple-choice personalization question (MemBench, PersonaMem): lettered choices + correct letter."""

    question: str
    choices: dict[str, str]
    ground_truth: str
    answer: str = ""
    time: str = ""  # when the question is asked; matters for time-relative questions

    _letter = field_validator("ground_truth", mode="before")(_option_letter)

    @field_validator("choices", mode="before")
    @classmethod
    def _letter_a_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {string.ascii_uppercase[i]: str(text) for i, text in enumerate(value)}
        return value

    @model_validator(mode="after")
    def _truth_is_a_choice(self) -> ChoiceTarget:
        if self.ground_truth not in self.choices:
            raise ValueError(f"ground_truth {self.ground_truth!r} is not one of {sorted(self.choices)}")
        return self


class PersonaMemTarget(TargetRecord):
    """PersonaMem-v2 MCQ: the user's request (`user_query`), the candidate replies (`choices`, lettered in
    list order) and the right one by its text (`correct_answer`). Fields nested under `metadata` (the
    generator's layout) are read as well as top-level ones (the release's)."""

    user_query: str
    choices: list[str]
    correct_answer: str

    _literal_choices = field_validator("choices", mode="before")(_maybe_literal)

    @model_validator(mode="before")
    @classmethod
    def _lift_metadata(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
            return {**data["metadata"], **{k: v for k, v in data.items() if k != "metadata"}}
        return data

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> PersonaMemTarget:
        if len(self.choices) < 2:
            raise ValueError(f"choices: {len(self.choices)} given, at least 2 needed")
        if self.correct_letter is None:
            raise ValueError(f"correct_answer {self.correct_answer[:40]!r} is not one of the choices")
        return self

    @property
    def options(self) -> dict[str, str]:
        return {string.ascii_uppercase[i]: text for i, text in enumerate(self.choices)}

    @property
    def correct_letter(self) -> str | None:
        wanted = self.correct_answer.strip()
        return next((letter for letter, text in self.options.items() if text.strip() == wanted), None)


class PrefEvalTarget(TargetRecord):
    """PrefEval implicit-preference MCQ. The question is `task_main`; the preference must come from memory."""

    shuffled_options: list[str]
    correct_idx: str
    preference: str = ""
    persona: str = ""
    topic: str = ""
    explanation: str = ""

    _letter = field_validator("correct_idx", mode="before")(_option_letter)

    @model_validator(mode="after")
    def _letter_in_range(self) -> PrefEvalTarget:
        letters = string.ascii_uppercase[: len(self.shuffled_options)]
        if len(self.shuffled_options) < 2 or self.correct_idx not in letters:
            raise ValueError(
                f"correct_idx {self.correct_idx!r} does not index {len(self.shuffled_options)} options"
            )
        return self

    @property
    def options(self) -> dict[str, str]:
        return {string.ascii_uppercase[i]: text for i, text in enumerate(self.shuffled_options)}


class ProblemTarget(TargetRecord):
    """Problem-solving target: the full task text and the expected answer.

    For MCQ sets (MMLU-Pro, GPQA) `target` is a letter in parentheses, e.g. "(C)"; for Game of 24 it is
    "24" and the puzzle's numbers are in `task_main`; for MathEquationBalancer it is one valid equation.
    """

    input: str
    target: str

    @field_validator("target", mode="before")
    @classmethod
    def _number_to_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class LongMemEvalTarget(TargetRecord):
    question: str
    answer: str  # a fact, or for preference questions a rubric of what a good reply looks like
    question_type: str
    question_id: str = ""
    has_answer_turns: list[int] = []

    @field_validator("answer", "question_id", mode="before")
    @classmethod
    def _number_to_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class AgenticTarget(TargetRecord):
    """Environment episode (ALFWorld, FEVER, PDDL, BabyAI, ScienceWorld); env fields differ per set."""


class BigCodeBenchTarget(TargetRecord):
    """BigCodeBench task: `task_main` is its instruction prompt; the tests come from the tasks file by id."""

    task_id: str
    entry_point: str = "task_func"


class ToolBenchTarget(TargetRecord):
    """StableToolBench query; the user request is `task_main`."""

    query_id: str
    api_list: list[dict[str, Any]]
    relevant_apis: list[Any] = []
    split: str = ""

    @field_validator("query_id", mode="before")
    @classmethod
    def _number_to_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class ReferenceOutput(BaseModel):
    """One line of a released `zero-shot/` or `1-shot/target_output.jsonl`: the solver's run and its label."""

    model_config = ConfigDict(extra="allow")
    id: int
    label: bool
    task_main: str = ""
    final_answer: str = ""  # the answer the reference extracted, or NO_FINAL_ANSWER
    final_output: str = ""  # the solver's last reply in full
    target: str | None = None
    input: str | None = None


NO_FINAL_ANSWER = "No final answer found"
