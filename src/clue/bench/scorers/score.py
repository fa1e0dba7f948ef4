"""The result every scorer returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    """A reward in [0, 1] and, when useful, a short note on how it was decided."""

    reward: float
    detail: str = ""
    # Judge verdicts that could not be read even when asked again: scored as the reference scores them
    # (0, or Unsolved), and counted so that no unreadable verdict is silently a score.
    unreadable_verdicts: int = 0


def correct(detail: str = "") -> Score:
    return Score(1.0, detail)


def wrong(detail: str) -> Score:
    return Score(0.0, detail)
