"""What the extractor reads: a conversation (chat turns) or a trajectory (an agent's actions, the
observations it got back, and how the episode ended). `clue.memory.render.render_source` renders both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Turn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str


class Conversation(BaseModel):
    kind: Literal["conversation"] = "conversation"
    turns: list[Turn]

    def as_turns(self) -> list[Turn]:
        return list(self.turns)


class TrajectoryStep(BaseModel):
    action: str  # the agent's whole reply for this step
    observation: str  # what the environment answered


class Trajectory(BaseModel):
    """An agent episode, as BEHEMOTH's agentic sources hold it: the agent's system prompt, the task (the first
    user message), each step, and the closing lines that state the outcome (e.g. "You failed the task.")."""

    kind: Literal["trajectory"] = "trajectory"
    system: str | None = None  # None: no system turn; "" an empty one, kept (the reference renders it)
    task: str
    steps: list[TrajectoryStep] = []
    outcome_lines: list[str] = []
    success: bool | None = None

    def as_turns(self) -> list[Turn]:
        turns = [Turn(role="system", content=self.system)] if self.system is not None else []
        turns.append(Turn(role="user", content=self.task))
        for step in self.steps:
            turns += [Turn(role="assistant", content=step.action), Turn(role="user", content=step.observation)]
        turns += [Turn(role="user", content=line) for line in self.outcome_lines]
        return turns


Source = Annotated[Conversation | Trajectory, Field(discriminator="kind")]


def conversation(turns: Iterable[Mapping[str, str]]) -> Conversation:
    return Conversation(turns=[Turn(role=t["role"], content=t["content"]) for t in turns])


def trajectory_from_turns(turns: Sequence[Turn]) -> Trajectory | None:
    """Read released agent transcripts (system, task, then assistant/user pairs, then the outcome line as an
    extra user turn). None when the turns do not have that shape; the caller keeps them as a conversation."""
    index = 0
    system: str | None = None
    if turns and turns[0].role == "system":
        system, index = turns[0].content, 1
    if index >= len(turns) or turns[index].role != "user":
        return None
    task = turns[index].content
    rest = turns[index + 1:]
    steps: list[TrajectoryStep] = []
    position = 0
    while position + 1 < len(rest) and rest[position].role == "assistant" and rest[position + 1].role == "user":
        steps.append(TrajectoryStep(action=rest[position].content, observation=rest[position + 1].content))
        position += 2
    tail = rest[position:]
    if any(turn.role != "user" for turn in tail):
        return None
    return Trajectory(system=system, task=task, steps=steps, outcome_lines=[t.content for t in tail])
