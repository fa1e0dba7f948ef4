"""What every solver shares: one recorded LLM call with the dataset's reply limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from clue.bench.run.events import Event, LLMCallEvent
from clue.bench.solvers.base import SolveContext
from clue.llm.types import Completion, Message, Role

if TYPE_CHECKING:
    from clue.llm.client import LLM


@dataclass(frozen=True)
class ReplyLimits:
    """The dataset's solver reply limits (its entry's `max_tokens` and `stop`), sent with every solver call.

    On the embedded backend (`local`) the solver role's own `max_tokens` (512 by default) caps the dataset's,
    so a 1.5B model on a CPU is not asked for 2,048-token replies; on `openai` the dataset's limit holds.
    `None`: the solver role's limit."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()

    def max_tokens_for(self, llm: LLM) -> int | None:
        if self.max_tokens is None:
            return None
        config = llm.config("solver")
        return min(self.max_tokens, config.max_tokens) if config.backend == "local" else self.max_tokens


def llm_event(role: Role, messages: list[Message], completion: Completion) -> LLMCallEvent:
    """The event for one finished call: the request as sent (after any cut) and the reply as received."""
    sent = [{"role": m["role"], "content": m["content"]} for m in completion.sent_messages or messages]
    return LLMCallEvent(role=role, messages=sent, reply=completion.raw_text or completion.text,
                        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                        finish_reason=completion.finish_reason, cached=completion.cached,
                        latency_s=completion.latency_s, notes=list(completion.notes))


async def solver_chat(ctx: SolveContext, messages: list[Message], limits: ReplyLimits, *,
                      cuttable_index: int | None = None, answer_grammar: str | None = None) -> Completion:
    """One solver call with the dataset's reply limits (and answer format, where answers are constrained)."""
    return await ctx.llm.chat("solver", messages, repeat=ctx.repeat, cuttable_index=cuttable_index,
                              max_tokens=limits.max_tokens_for(ctx.llm), stop=limits.stop,
                              answer_grammar=answer_grammar)


async def call_llm(ctx: SolveContext, messages: list[Message], events: list[Event], *, role: Role = "solver",
                   cuttable_index: int | None = None, limits: ReplyLimits | None = None,
                   answer_grammar: str | None = None) -> Completion:
    """One chat call whose event goes to `events` and to the context's live recorder; a solver call carries
    `limits` (the dataset's reply limits) and `answer_grammar`, which holds the reply to the task's answer
    format where the role constrains answers (`clue.config`)."""
    if role == "solver":
        completion = await solver_chat(ctx, messages, limits or ReplyLimits(), cuttable_index=cuttable_index,
                                       answer_grammar=answer_grammar)
    else:
        completion = await ctx.llm.chat(role, messages, repeat=ctx.repeat, cuttable_index=cuttable_index)
    event = llm_event(role, messages, completion)
    events.append(event)
    ctx.record(event)
    return completion


def record(ctx: SolveContext, events: list[Event], event: Event) -> None:
    events.append(event)
    ctx.record(event)
