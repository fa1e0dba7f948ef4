"""Exact arithmetic on untrusted answer text, without `eval`.

The text is normalised (unicode and LaTeX operators to + - * /), checked against a character whitelist,
parsed with `ast.parse(mode="eval")`, and the tree is walked allowing only integer literals, unary +/-
and the four binary operations, computed with `Fraction`. Powers, names, calls, floats and anything else
are rejected before any arithmetic happens, so `9**9**9` costs nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

MAX_EXPRESSION_CHARS = 300

_REPLACEMENTS = (
    ("\\times", "*"), ("\\cdot", "*"), ("\\div", "/"), ("\\left", ""), ("\\right", ""),
    ("×", "*"), ("∗", "*"), ("·", "*"), ("⋅", "*"), ("✕", "*"),
    ("÷", "/"), ("∕", "/"), ("−", "-"), ("–", "-"), ("—", "-"),
    ("[", "("), ("]", ")"), ("{", "("), ("}", ")"),
)
_LETTER_X_AS_TIMES = re.compile(r"(?<=[\d)\s])[xX](?=[\s\d(])")
_ALLOWED_CHARS = re.compile(r"^[\d\s+\-*/()]*$")
_OPERATORS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class ExpressionRejected(ValueError):
    """The text is not a plain arithmetic expression over integers, or it divides by zero."""


@dataclass(frozen=True)
class Evaluated:
    value: Fraction
    numbers: tuple[int, ...]  # integer literals in reading order
    operators: tuple[str, ...]  # binary operators in reading order


def normalise_operators(text: str) -> str:
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return _LETTER_X_AS_TIMES.sub("*", text)


def evaluate(text: str) -> Evaluated:
    """Evaluate `text` exactly. Raises ExpressionRejected for anything but integer + - * / ( )."""
    text = normalise_operators(text).strip()
    if not text:
        raise ExpressionRejected("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionRejected(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if not _ALLOWED_CHARS.match(text):
        bad = sorted({c for c in text if not _ALLOWED_CHARS.match(c)})
        raise ExpressionRejected(f"characters not allowed: {''.join(bad)!r}")
    if "**" in text:
        raise ExpressionRejected("powers are not allowed")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionRejected(f"not an expression: {type(exc).__name__}") from exc
    numbers: list[int] = []
    operators: list[str] = []
    value = _walk(tree.body, numbers, operators)
    return Evaluated(value, tuple(numbers), tuple(operators))


def _walk(node: ast.AST, numbers: list[int], operators: list[str]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        numbers.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _walk(node.operand, numbers, operators)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _walk(node.left, numbers, operators)
        operators.append(_OPERATORS[type(node.op)])
        right = _walk(node.right, numbers, operators)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise ExpressionRejected("division by zero")
        return left / right
    raise ExpressionRejected(f"{type(node).__name__} is not allowed")
