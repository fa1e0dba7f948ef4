"""`single_turn`: one solver call on the dataset's question, with the memory where the reference puts it.

- system placement (PrefEval, PersonaMem-v2; also any dataset outside the registry): a short assistant
  system prompt followed by the retrieved-memory block; the user turn is the question.
- user placement (MemBench, LongMemEval): the reference sends an empty system prompt and puts the memory
  in the user turn, before the question, which is asked in the light of past conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.envs.base import MemoryPlacement
from clue.bench.run.events import Event
from clue.bench.scorers.answer_format import AnswerFormat
from clue.bench.solvers.base import Episode, SolveContext, SolverKind
from clue.bench.solvers.common import ReplyLimits, call_llm
from clue.errors import BadInputError
from clue.llm.types import Message
from clue.memory.inject import SOLVER_BASE, memory_user_turn, solver_system_prompt


@dataclass
class SingleTurnSolver:
    memory_placement: MemoryPlacement = "system"
    kind: SolverKind = "single_turn"
    system_base: str = SOLVER_BASE  # the system prompt of the system placement, before the memory block
    reply: ReplyLimits = field(default_factory=ReplyLimits)  # the dataset's max tokens and stop strings

    def messages(self, pair: Pair, memory: str, ctx: SolveContext) -> list[Message]:
        query: list[Message] = list(_task(pair, ctx).query_messages(pair))
        if not query or query[-1]["role"] != "user":
            raise BadInputError(f"{pair.dataset}: the task's query does not end with a user turn")
        if self.memory_placement == "system":
            return [{"role": "system", "content": solver_system_prompt(memory, self.system_base)}, *query]
        last = query[-1]
        return [{"role": "system", "content": ""}, *query[:-1],
                {"role": "user", "content": memory_user_turn(memory, last["content"])}]

    async def solve(self, pair: Pair, memory: str, ctx: SolveContext) -> Episode:
        messages = self.messages(pair, memory, ctx)
        events: list[Event] = []
        completion = await call_llm(ctx, messages, events, limits=self.reply,
                                    answer_grammar=answer_grammar(_task(pair, ctx), pair))
        reply: Message = {"role": "assistant", "content": completion.text}
        return Episode(messages=[*messages, reply], events=events, final_text=completion.text)


def _task(pair: Pair, ctx: SolveContext) -> Any:
    if ctx.task is not None:
        return ctx.task
    from clue.bench.scorers.tasks import task_for

    return task_for(pair.dataset)


def answer_grammar(task: Any, pair: Pair) -> str | None:
    """The grammar of the task's answer format, for a task that declares one (`answer_format`)."""
    declare = getattr(task, "answer_format", None)
    answer_format: AnswerFormat | None = declare(pair) if declare is not None else None
    return answer_format.grammar() if answer_format is not None else None
