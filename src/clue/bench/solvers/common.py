"""What every solver shares: one recorded LLM call, and the retrieved-memory block in our own words."""

from __future__ import annotations

from clue.bench.run.events import Event, LLMCallEvent
from clue.bench.solvers.base import SolveContext
from clue.llm.types import Completion, Message, Role


def llm_event(role: Role, messages: list[Message], completion: Completion) -> LLMCallEvent:
    """The event for one finished call: the request as sent (after any cut) and the reply as received."""
    sent = [{"role": m["role"], "content": m["content"]} for m in completion.sent_messages or messages]
    return LLMCallEvent(role=role, messages=sent, reply=completion.raw_text or completion.text,
                        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                        finish_reason=completion.finish_reason, cached=completion.cached,
                        latency_s=completion.latency_s, notes=list(completion.notes))


async def call_llm(ctx: SolveContext, messages: list[Message], events: list[Event], *, role: Role = "solver",
                   cuttable_index: int | None = None, answer_grammar: str | None = None) -> Completion:
    """One chat call whose event goes to `events` and to the context's live recorder. `answer_grammar`
    holds the reply to the task's answer format where the role constrains answers (`clue.config`)."""
    completion = await ctx.llm.chat(role, messages, repeat=ctx.repeat, cuttable_index=cuttable_index,
                                    answer_grammar=answer_grammar)
    event = llm_event(role, messages, completion)
    events.append(event)
    ctx.record(event)
    return completion


def record(ctx: SolveContext, events: list[Event], event: Event) -> None:
    events.append(event)
    ctx.record(event)
