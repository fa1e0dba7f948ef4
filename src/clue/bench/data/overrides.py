"""A user's changes to datasets' solver settings, from `clue.toml` (`[datasets.NAME]` tables) and the
command line (`--solver-max-tokens NAME=N`, `--solver-setting NAME.FIELD=VALUE`); the command line wins.

    [datasets.AIME]
    max_tokens = 4096
    [datasets.alfworld]
    examples = 1
    stop = []

Bad input (an unknown dataset or field, a value of the wrong kind) is one line naming it.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clue.bench.data.datasets import get_dataset
from clue.bench.data.records import first_validation_error
from clue.errors import BadInputError

Overrides = dict[str, dict[str, Any]]  # registry name -> solver setting -> value


class SolverOverride(BaseModel):
    """The solver settings a user may change per dataset."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(None, ge=1)
    stop: tuple[str, ...] | None = None
    examples: int | None = Field(None, ge=0, le=1)
    step_cap: int | None = Field(None, ge=1)

    @field_validator("stop", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


FIELDS = tuple(SolverOverride.model_fields)


def _checked(dataset: str, changes: dict[str, Any], origin: str) -> tuple[str, dict[str, Any]]:
    entry = get_dataset(dataset)
    try:
        parsed = SolverOverride.model_validate(changes)
    except ValidationError as exc:
        raise BadInputError(f"{origin}: dataset {entry.name}: {first_validation_error(exc)}") from None
    settable = {name for name in FIELDS if getattr(entry.solver, name) is not None or name in ("max_tokens", "stop")}
    chosen = parsed.model_dump(exclude_unset=True)
    for name in chosen:
        if name not in settable:
            raise BadInputError(f"{origin}: dataset {entry.name} has no {name} (its solver is "
                                f"{entry.solver.kind})")
    return entry.name, chosen


def from_toml(path: Path | None) -> Overrides:
    """The `[datasets.NAME]` tables of a clue.toml (none when `path` is None or has no such table)."""
    if path is None or not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read config: {exc}") from None
    tables = data.get("datasets", {})
    if not isinstance(tables, dict):
        raise BadInputError(f"{path}: the datasets table must hold one table per dataset, e.g. datasets.AIME")
    found: Overrides = {}
    for name, changes in tables.items():
        if not isinstance(changes, dict):
            raise BadInputError(f"{path}: datasets.{name} must be a table of solver settings")
        key, checked = _checked(name, changes, f"{path}, table datasets.{name}")
        found.setdefault(key, {}).update(checked)
    return found


def _value(raw: str) -> Any:
    """A command-line value: JSON when it parses (numbers, lists, quoted strings), else the text itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def from_cli(max_tokens: Iterable[str] = (), settings: Iterable[str] = ()) -> Overrides:
    """`--solver-max-tokens NAME=N` and `--solver-setting NAME.FIELD=VALUE` items."""
    found: Overrides = {}
    for item in max_tokens:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BadInputError(f"--solver-max-tokens {item!r}: expected DATASET=N, e.g. AIME=4096")
        key, checked = _checked(name.strip(), {"max_tokens": _value(value)}, f"--solver-max-tokens {item}")
        found.setdefault(key, {}).update(checked)
    for item in settings:
        head, sep, value = item.partition("=")
        name, dot, field = head.rpartition(".")
        if not sep or not dot or field not in FIELDS:
            raise BadInputError(f"--solver-setting {item!r}: expected DATASET.FIELD=VALUE with FIELD in "
                                f"{', '.join(FIELDS)}")
        key, checked = _checked(name, {field: _value(value)}, f"--solver-setting {item}")
        found.setdefault(key, {}).update(checked)
    return found


def merged(*layers: Overrides) -> Overrides:
    """Later layers win, field by field."""
    result: Overrides = {}
    for layer in layers:
        for name, changes in layer.items():
            result.setdefault(name, {}).update(changes)
    return result
