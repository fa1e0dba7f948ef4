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
