"""Optimizer replies that could not be used: asked again with the parse error a bounded number of times,
counted per step, and never silent. A run in which every candidate came from an unusable reply fails
(`OptimizerRepliesError`, exit 4) instead of keeping the seed and looking like a finished evolution.

Steps: summary, cluster, analysis (CluE's cluster analyst, MemEvolve's global analyst), synthesis, reflection
(GEPA), reflector and curator (ACE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from clue.errors import UpstreamError
from clue.llm.client import LLM, StructuredResult
from clue.llm.types import Message

ModelT = TypeVar("ModelT", bound=BaseModel)
DEFAULT_ATTEMPTS = 2


class OptimizerRepliesError(UpstreamError):
    """The optimizer model never gave a usable candidate: the evolution has no result to report."""

    def __init__(self, message: str, unusable_replies: dict[str, int]) -> None:
        super().__init__(message)
        self.unusable_replies = unusable_replies


class ReplyCounts(BaseModel):
    """Per step: replies asked for, replies that needed a re-ask, replies still unusable after every re-ask;
    and the candidates proposed, of which `unusable_candidates` came to nothing because of an unusable reply."""

    asked: dict[str, int] = {}
    retried: dict[str, int] = {}
    unusable: dict[str, int] = {}
    candidates: int = 0
    unusable_candidates: int = 0

    def note(self, step: str, *, attempts: int, usable: bool) -> None:
        self.asked[step] = self.asked.get(step, 0) + 1
        if attempts > 1:
            self.retried[step] = self.retried.get(step, 0) + 1
        if not usable:
            self.unusable[step] = self.unusable.get(step, 0) + 1

    def candidate(self, *, usable: bool) -> None:
        self.candidates += 1
        if not usable:
            self.unusable_candidates += 1

    def describe(self) -> str:
        """E.g. "synthesis 6/6, summary 12/12" (unusable of asked), "" when every reply was usable."""
        return ", ".join(f"{step} {n}/{self.asked.get(step, n)}" for step, n in sorted(self.unusable.items()) if n)

    def check_candidates(self, method: str) -> None:
        """Raise when candidates were proposed and every one of them came from an unusable reply."""
        if self.candidates and self.unusable_candidates == self.candidates:
            raise OptimizerRepliesError(
                f"{method}: every one of the {self.candidates} candidates failed because the optimizer's replies "
                f"were unusable (unusable of asked: {self.describe() or 'none counted'}); the seed prompt was kept",
                dict(self.unusable))


@dataclass
class Replies:
    """What an optimizer step needs to ask: the run's counts and how many tries a reply gets."""

    counts: ReplyCounts = field(default_factory=ReplyCounts)
    attempts: int = DEFAULT_ATTEMPTS

    async def ask(self, llm: LLM, step: str, messages: list[Message], model: type[ModelT], *, repeat: int = 0,
                  cuttable_index: int | None = None, max_tokens: int | None = None) -> StructuredResult[ModelT]:
        """`llm.structured` with up to `attempts` tries (each re-ask carries the parse error), counted.
        `max_tokens` replaces the optimizer role's reply limit for this step (synthesis)."""
        result = await llm.structured("optimizer", messages, model, repeat=repeat, cuttable_index=cuttable_index,
                                      attempts=self.attempts, max_tokens=max_tokens)
        self.counts.note(step, attempts=result.attempts, usable=result.value is not None)
        return result


def or_default(replies: Replies | None) -> Replies:
    return replies if replies is not None else Replies()


def all_failed(modes: Sequence[str]) -> bool:
    """Whether a candidate's analyses were all failures (it then had nothing usable to be built from)."""
    return bool(modes) and all(mode == "failed" for mode in modes)
