"""`study.toml`: what a study runs. Validated with pydantic; a bad value is one line naming its key.

The `[llm]` / `[llm.ROLE]` tables (and `[evolve]`) are clue.toml's own: they are written into the study
directory's `clue.toml` and read by every cell through clue's config loader, so a study and a single run
mean the same thing by the same key.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clue.bench.data.datasets import CATEGORIES, DATASETS, DatasetSpec, get_dataset
from clue.errors import BadInputError, NotFoundError
from clue.memory.prompts import BUILTIN_PROMPTS, NO_MEMORY

StudySplit = Literal["test", "ood"]
METHODS = ("clue", "memevolve", "gepa", "ace")


class StudyFileError(BadInputError):
    """A study file that cannot be used; the message names the file and the key."""


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    weight: float = Field(1.0, gt=0)


class BestOf(BaseModel):
    """The best prompt of a finished evolve run (its best_prompt.txt)."""

    model_config = ConfigDict(extra="forbid")
    best_of: Path
    name: str | None = None


class Optimizer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["clue", "memevolve", "gepa", "ace"]
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    budget_rollouts: int | None = Field(None, ge=1)
    budget_tokens: int | None = Field(None, ge=1)
    budget_calls: int | None = Field(None, ge=1)
    seed_prompt: str = "simple"
    # Any other `clue evolve` setting, as its flag name without dashes: {rounds = 2, batch = 8}.
    settings: dict[str, int | float | str | bool] = {}


class StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "study"
    datasets: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    splits: list[StudySplit] = Field(default_factory=lambda: list[StudySplit](["test", "ood"]), min_length=1)
    prompts: list[str | BestOf] = Field(default_factory=lambda: list[str | BestOf](["simple"]))
    baseline: str = "simple"  # the prompt the relative gain is taken over
    repeats: Literal["reference"] | int = "reference"
    limit: int | None = Field(None, ge=1)  # at most N pairs per dataset (a small study)
    endpoints: list[Endpoint] = []
    optimizers: list[Optimizer] = []
    llm: dict[str, Any] = {}
    evolve: dict[str, Any] = {}

    @field_validator("repeats")
    @classmethod
    def _positive(cls, value: str | int) -> str | int:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be 'reference' or at least 1")
        return value


def _key_of(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_study_file(path: Path) -> StudyFile:
    """Parse and validate; every error is one line naming the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{path}: study file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{path}: not valid TOML ({exc})") from None
    try:
        study = StudyFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(p for p in error["loc"] if p not in ("str", "BestOf"))
        raise StudyFileError(f"{path}: {_key_of(loc) or 'file'}: {error['msg']}") from None
    check_study(study, path)
    return study


def check_study(study: StudyFile, path: Path) -> None:
    for index, entry in enumerate(study.prompts):
        _check_prompt(entry, f"{path}: prompts[{index}]", path.parent)
    try:
        selected_datasets(study)
    except (BadInputError, NotFoundError) as exc:
        raise StudyFileError(f"{path}: datasets: {exc}") from None
    names = [prompt_label(p) for p in study.prompts]
    if len(set(names)) != len(names):
        raise StudyFileError(f"{path}: prompts: two prompts share the name {_first_duplicate(names)!r}")
    for index, optimizer in enumerate(study.optimizers):
        if not (optimizer.budget_rollouts or optimizer.budget_tokens or optimizer.budget_calls):
            raise StudyFileError(f"{path}: optimizers[{index}]: give a budget (budget_rollouts, budget_tokens "
                                 "or budget_calls): optimizers are compared at equal budget")
        _check_prompt(optimizer.seed_prompt, f"{path}: optimizers[{index}].seed_prompt", path.parent)


def _first_duplicate(names: list[str]) -> str:
    return next(n for i, n in enumerate(names) if n in names[:i])


def _check_prompt(entry: str | BestOf, where: str, base: Path) -> None:
    if isinstance(entry, BestOf):
        return  # the evolve run may still be running when the study is planned; checked when it is used
    if entry in (NO_MEMORY, *BUILTIN_PROMPTS):
        return
    if not (base / entry).is_file() and not Path(entry).is_file():
        raise StudyFileError(f"{where}: {entry!r} is neither a built-in prompt "
                             f"({', '.join((NO_MEMORY, *BUILTIN_PROMPTS))}) nor a file")


def prompt_label(entry: str | BestOf) -> str:
    if isinstance(entry, BestOf):
        return entry.name or f"best-of-{entry.best_of.name}"
    return Path(entry).stem if entry not in (NO_MEMORY, *BUILTIN_PROMPTS) else entry


def wanted_datasets(study: StudyFile) -> list[DatasetSpec]:
    """The datasets named (or by category, or "all"), in registry order, whatever their split."""
    chosen: set[str] = set()
    for item in study.datasets:
        key = item.strip().lower()
        if key == "all":
            chosen.update(spec.name for spec in DATASETS)
        elif key in CATEGORIES:
            chosen.update(spec.name for spec in DATASETS if spec.category == key)
        else:
            chosen.add(get_dataset(item).name)
    return [spec for spec in DATASETS if spec.name in chosen]


def selected_datasets(study: StudyFile) -> list[DatasetSpec]:
    """The datasets the static prompts are evaluated on: the wanted ones whose split the study lists."""
    return [spec for spec in wanted_datasets(study) if split_of(spec) in study.splits]


def split_of(spec: DatasetSpec) -> StudySplit:
    return "ood" if spec.ood else "test"


def config_toml(study: StudyFile) -> str:
    """The study's [llm] and [evolve] tables as a clue.toml every cell reads (clue.config's own loader)."""
    lines: list[str] = []
    for table, values in (("llm", study.llm), ("evolve", study.evolve)):
        plain = {k: v for k, v in values.items() if not isinstance(v, dict)}
        lines += [f"[{table}]", *(f"{k} = {_toml_value(v)}" for k, v in plain.items()), ""]
        for role, section in ((k, v) for k, v in values.items() if isinstance(v, dict)):
            lines += [f"[{table}.{role}]", *(f"{k} = {_toml_value(v)}" for k, v in section.items()), ""]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    """A scalar or list as TOML (JSON's string escapes are valid TOML basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))
