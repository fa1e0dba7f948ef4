"""Typed events: what happened inside one rollout, in order (inspect_ai-style sample events).

A rollout keeps its events; flat fields such as `memory` and `solver_output` are views derived from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class LLMCallEvent(BaseModel):
    """One chat call: what was sent and what came back."""

    kind: Literal["llm"] = "llm"
    role: str  # extractor | solver | judge | optimizer
    messages: list[dict[str, str]]
    # Stored rollouts leave out what the previous call of the same role already holds: the first `prefix`
    # messages sent were that call's messages and its reply (an agent's growing history). 0: all are here.
    # `expand_messages` restores the full lists.
    prefix: int = 0
    reply: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "length" = cut off (inside <think> included)
    cached: bool = False
    latency_s: float = 0.0
    notes: list[str] = []


class CodeRunEvent(BaseModel):
    """One execution of model-written code in the sandbox."""

    kind: Literal["code"] = "code"
    code: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    limit: str | None = None  # which limit ended it: "time" | "memory" | "processes" | "file size" | "output"
    seconds: float = 0.0


class EnvResetEvent(BaseModel):
    kind: Literal["reset"] = "reset"
    observation: str


class EnvStepEvent(BaseModel):
    """One agent turn in an environment. `reward` is the environment's progress reward after the step."""

    kind: Literal["step"] = "step"
    index: int  # 1-based agent turn
    action: str
    observation: str
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = {}


class ScoreEvent(BaseModel):
    kind: Literal["score"] = "score"
    reward: float
    success: bool | None = None
    detail: str = ""


class NoteEvent(BaseModel):
    kind: Literal["note"] = "note"
    text: str


Event = Annotated[
    LLMCallEvent | CodeRunEvent | EnvResetEvent | EnvStepEvent | ScoreEvent | NoteEvent,
    Field(discriminator="kind"),
]


def compact_events(events: list[Event]) -> list[Event]:
    """Drop from each LLM call the history its predecessor of the same role already stores (see `prefix`),
    so a 30-step episode is stored in linear, not quadratic, space."""
    last_full: dict[str, list[dict[str, str]]] = {}
    out: list[Event] = []
    for event in events:
        if isinstance(event, LLMCallEvent) and event.prefix == 0:
            full = event.messages
            previous = last_full.get(event.role)
            if previous is not None:
                history = [*previous, {"role": "assistant", "content": _reply_of(out, event.role)}]
                shared = len(history) if full[:len(history)] == history else 0
                if shared:
                    event = event.model_copy(update={"messages": full[shared:], "prefix": shared})
            last_full[event.role] = full
        out.append(event)
    return out


def expand_messages(events: list[Event]) -> list[list[dict[str, str]]]:
    """The full messages sent by each LLM call, in order (the inverse of `compact_events`)."""
    last_full: dict[str, list[dict[str, str]]] = {}
    last_reply: dict[str, str] = {}
    result: list[list[dict[str, str]]] = []
    for event in events:
        if not isinstance(event, LLMCallEvent):
            continue
        full = event.messages
        if event.prefix:
            history = [*last_full[event.role], {"role": "assistant", "content": last_reply[event.role]}]
            full = [*history[:event.prefix], *event.messages]
        last_full[event.role], last_reply[event.role] = full, event.reply
        result.append(full)
    return result


def _reply_of(events: list[Event], role: str) -> str:
    for event in reversed(events):
        if isinstance(event, LLMCallEvent) and event.role == role:
            return event.reply
    return ""
