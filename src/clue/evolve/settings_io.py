"""Evolution settings from their three sources: built-in defaults < `clue.toml` `[evolve]` < `clue evolve` flags.

Every field of `EvolveSettings` is a flag: `--analysis-steps 20`, `--synthesis-mode edits`,
`--reuse-rollouts` / `--no-reuse-rollouts` (or `--reuse-rollouts false`), `--case-chars none`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from clue.errors import BadInputError
from clue.evolve.protocol import EvolveSettings

KNOBS = {f.name: f for f in fields(EvolveSettings)}
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False,
               "off": False}


def _is_bool(name: str) -> bool:
    return isinstance(KNOBS[name].default, bool)


def from_toml(path: Path | None) -> dict[str, Any]:
    """The `[evolve]` table of a clue.toml (empty without one); unknown keys are refused by `build`."""
    if path is None or not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read config: {exc}") from exc
    table = data.get("evolve", {})
    if not isinstance(table, dict):
        raise BadInputError(f"{path}: [evolve] must be a table of settings")
    return {k.replace("-", "_"): v for k, v in table.items()}


def parse_flags(args: Sequence[str]) -> dict[str, Any]:
    """`--name value`, `--name=value`, `--flag` / `--no-flag` for booleans; values stay text until `build`."""
    found: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if not arg.startswith("--"):
            raise BadInputError(f"unexpected argument {arg!r} (settings are --name value)")
        head, eq, value = arg[2:].partition("=")
        name = head.replace("-", "_")
        negated = name.startswith("no_") and name[3:] in KNOBS and _is_bool(name[3:])
        if negated:
            found[name[3:]] = False
        elif name not in KNOBS:
            raise BadInputError(f"unknown option --{head} (evolution settings: "
                                f"{', '.join('--' + k.replace('_', '-') for k in KNOBS)})")
        elif eq:
            found[name] = value
        elif _is_bool(name) and (i + 1 >= len(items) or items[i + 1].lower() not in _BOOL_WORDS):
            found[name] = True
        elif i + 1 < len(items):
            found[name] = items[i + 1]
            i += 1
        else:
            raise BadInputError(f"--{head} needs a value")
        i += 1
    return found


def _coerce(name: str, value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if _is_bool(name) and lowered in _BOOL_WORDS:
            return _BOOL_WORDS[lowered]
        if lowered in ("none", "null") and "None" in str(KNOBS[name].type):
            return None
    return value


def build(*layers: dict[str, Any]) -> EvolveSettings:
    """Merge layers (later wins) over the defaults and validate every value, naming the culprit."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for name, value in layer.items():
            if name not in KNOBS:
                raise BadInputError(f"unknown evolution setting {name!r} (known: {', '.join(KNOBS)})")
            if value is not None or "None" in str(KNOBS[name].type):
                merged[name] = _coerce(name, value)
    try:
        return TypeAdapter(EvolveSettings).validate_python(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise BadInputError(f"evolution setting {where}: {error['msg']} (got {error.get('input')!r})") from None


def knob_help() -> str:
    """One line per setting for `clue evolve --help`."""
    lines = []
    for f in fields(EvolveSettings):
        paper = f" [paper: {f.metadata['paper']}]" if f.metadata.get("paper") else ""
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(f.default, bool):
            flag = f"{flag} / --no-{f.name.replace('_', '-')}"
        lines.append(f"{flag} (default {f.default!r}): {f.metadata.get('help', '')}{paper}")
    return "\n\n".join(lines)
