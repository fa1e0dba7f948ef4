"""The Solver protocol: (target, memory, LLM) -> an episode that the scorer reads.

Kinds: `single_turn` (personalization), `code_rounds` (Dynamic-Cheatsheet loop with sandboxed Python),
`episode` (ReAct agent over an Environment), `code_tests` (a solution run against unit tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from clue.bench.data.entry import SolverKind
from clue.bench.data.records import Pair
from clue.bench.envs.base import MemoryPlacement, Outcome
from clue.bench.run.events import Event
from clue.llm.types import Message

__all__ = ["Episode", "SolveContext", "Solver", "SolverKind"]

if TYPE_CHECKING:
    from clue.llm.client import LLM



@dataclass
class Episode:
    """What a solver produced. `final_text` is the solver's last reply; `answer` what the scorer grades."""

    messages: list[Message] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    final_text: str = ""
    answer: str | None = None
    outcome: Outcome | None = None  # environment episodes and unit-test runs


@dataclass
class SolveContext:
    llm: LLM
    repeat: int = 0
    record: Callable[[Event], None] = lambda event: None  # every event as it happens (for live logs)
    task: Any = None  # the dataset's clue.bench.scorers.tasks.Task (builds the question), when the runner has one


class Solver(Protocol):
    kind: SolverKind
    memory_placement: MemoryPlacement

    async def solve(self, pair: Pair, memory: str, ctx: SolveContext) -> Episode: ...
