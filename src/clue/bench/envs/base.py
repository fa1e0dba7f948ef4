"""The contract every agentic environment implements, and what the episode solver needs to know of it.

One environment per module (`clue/bench/envs/<name>.py`), each exporting an `EnvSpec` named `SPEC`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from clue.errors import NotFoundError, UpstreamError

MemoryPlacement = Literal["system", "user"]


class EnvironmentUnavailable(NotFoundError):
    """A resource the environment needs is missing (package, Java, game files, cache directory)."""


class EnvironmentFailure(UpstreamError):
    """The environment crashed or hung during an episode (an infrastructure failure, not a score)."""


@dataclass
class StepResult:
    observation: str
    reward: float  # the dataset's progress reward after this step, in [0, 1]
    done: bool
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How an episode ended, as BEHEMOTH scores it: success where the reference reports success."""

    success: bool
    reward: float
    steps: int


class Environment(Protocol):
    """A text environment for one target at a time. Synchronous: the pool runs it in a worker thread."""

    def reset(self, target: Mapping[str, Any]) -> str:
        """Start the target's episode; return the first observation the agent sees."""
        ...

    def step(self, action: str) -> StepResult: ...

    def valid_actions(self) -> list[str] | None:
        """The actions valid now, where the environment can list them; None where it cannot."""
        ...

    def outcome(self) -> Outcome:
        """Success and reward so far (callable at any time, e.g. when the step cap ends the episode)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TranscriptStep:
    action: str
    observation: str
    reward: float | None = None  # the reward the transcript shows after this step, where it shows one


@dataclass(frozen=True)
class Transcript:
    """A released 1-shot run of one target, parsed: its first observation, its steps and its outcome."""

    target_id: int
    initial_observation: str | None
    steps: Sequence[TranscriptStep]
    success: bool
    reward: float


class SystemPromptBuilder(Protocol):
    def __call__(self, target: Mapping[str, Any], *, examples: int = 1) -> str: ...


class FirstUserMessageBuilder(Protocol):
    def __call__(self, target: Mapping[str, Any], observation: str, memory_block: str, *,
                 examples: int = 1) -> str: ...


@dataclass(frozen=True)
class EnvSpec:
    """Everything the episode solver, `clue play`, `clue datasets` and the replay bench need of one dataset.

    - `make(env_root)` builds a fresh environment; raises EnvironmentUnavailable naming what is missing.
    - `missing(env_root)` says what is missing (one line), or None when the environment can run.
    - `system_prompt(target, examples=N)` / `first_user_message(target, observation, memory_block,
      examples=N)`: the agent's prompt as the reference builds it (our own words), with N worked example
      episodes (0 or 1; the dataset entry says how many); `memory_placement` says where the retrieved-memory
      block goes.
    - `parse_action(reply)`: the action in one agent reply (ReAct "Action: ..." or the reference's form).
    - `parse_transcript(record)`: a released `1-shot/target_output.jsonl` line as a Transcript.
    - `closing_messages(outcome, last_observation)`: the user turns that end the transcript, as the reference
      writes them (the last observation, then an outcome line such as "You failed the task."); the
      extractor later reads them as the trajectory's outcome. Default: `default_closing_messages`.
    - `valid_actions_command`: an action the episode solver answers itself from `valid_actions()` (listing
      them, as a step) instead of passing it to `step`; None where the environment answers it itself.
    - `reusable`: whether one live environment may run several episodes in turn (reset between them).
    - `goal(target)`: the goal the agent is told apart from the first observation (`clue play` prints it);
      None where the first observation states it.
    - `preload()`: imports the environment's third-party packages. The pool calls it once per process, under
      one lock, before its first environment starts: pool threads importing the same package at the same
      moment see it half-initialized.
    """

    dataset: str
    step_cap: int  # the environment's own limit; the solver uses the dataset entry's (`SolverSettings.step_cap`)
    memory_placement: MemoryPlacement
    make: Callable[[Path], Environment]
    missing: Callable[[Path], str | None]
    system_prompt: SystemPromptBuilder
    first_user_message: FirstUserMessageBuilder
    parse_action: Callable[[str], str]
    parse_transcript: Callable[[Mapping[str, Any]], Transcript]
    pool_size: int = 2  # how many live environments at once (a JVM each for ScienceWorld)
    closing_messages: Callable[[Outcome, str], list[str]] | None = None
    valid_actions_command: str | None = None
    reusable: bool = True
    preload: Callable[[], None] | None = None
    goal: Callable[[Mapping[str, Any]], str] | None = None


SUCCESS_LINE = "You successfully finished this task!"
FAILURE_LINE = "You failed the task."


def default_closing_messages(outcome: Outcome, last_observation: str) -> list[str]:
    """The GMemory-style ending of the released sources: the last observation, then the outcome line."""
    return [last_observation, SUCCESS_LINE if outcome.success else FAILURE_LINE]


def valid_actions_observation(actions: Sequence[str]) -> str:
    return "The valid actions now are: " + ", ".join(actions)


def turn_by_turn_transcript(record: Mapping[str, Any], parse_action: Callable[[str], str]) -> Transcript:
    """A released GMemory-style 1-shot run (ALFWorld, PDDL): the first user turn is the initial observation,
    each assistant turn is answered by the next user turn, and the last user turn is the outcome line."""
    messages = list(record.get("messages", []))
    initial = next((m["content"] for m in messages if m.get("role") == "user"), None)
    steps: list[TranscriptStep] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        reply = messages[index + 1]["content"] if index + 1 < len(messages) else ""
        steps.append(TranscriptStep(action=parse_action(message["content"]), observation=reply))
    return Transcript(target_id=int(record["id"]), initial_observation=initial, steps=steps,
                      success=bool(record.get("success")), reward=float(record.get("reward", 0.0)))
