"""Structured output: a pydantic schema goes out as JSON schema; replies are parsed, repaired or refused."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
ModelT = TypeVar("ModelT", bound=BaseModel)
_LITERAL_KEYS = ("default", "const", "enum", "examples")


def json_schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """Inline $refs: llama.cpp's schema-to-grammar and many servers handle flat schemas best."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].split("/")[-1]])
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "title":  # a schema's label; a *field* named "title" is a key of "properties"
                    continue
                if key == "properties":
                    out[key] = {name: resolve(sub) for name, sub in value.items()}
                elif key in _LITERAL_KEYS:  # values, not schemas: keep as they are
                    out[key] = value
                else:
                    out[key] = resolve(value)
            return out
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _candidates(text: str) -> list[str]:
    found = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        found.append(text[start:end + 1])
    found.append(text)
    return found


def _loads_leniently(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", candidate.strip())
    try:
        return json.loads(repaired)
    except json.JSONDecodeError:
        pass
    # Small models often answer with Python literals (single quotes, True/None).
    return ast.literal_eval(repaired)


def parse_structured(text: str, model: type[ModelT]) -> ModelT:
    """Parse and validate a reply, repairing common breakage. Raises ValueError with a one-line reason."""
    last_error = "no JSON object found"
    for candidate in _candidates(text):
        try:
            data = _loads_leniently(candidate)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            last_error = f"not JSON: {str(exc).splitlines()[0][:120]}"
            continue
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            last_error = f"schema mismatch at {'.'.join(map(str, first['loc'])) or 'root'}: {first['msg']}"
    raise ValueError(last_error)
