"""The result every scorer returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    """A reward in [0, 1] and, when useful, a short note on how it was decided."""

    reward: float
    detail: str = ""


def correct(detail: str = "") -> Score:
    return Score(1.0, detail)


def wrong(detail: str) -> Score:
    return Score(0.0, detail)
