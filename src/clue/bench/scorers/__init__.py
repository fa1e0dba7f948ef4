"""Pure scoring functions: each takes an extracted answer and the target, and returns a Score."""

from clue.bench.scorers.score import Score

__all__ = ["Score"]
