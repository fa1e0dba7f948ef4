"""BabyAI (minigrid) as BEHEMOTH plays it: a text layer, high-level actions and `obs_to_reward` progress.

The rules follow the reference (AgentBoard's BabyAI wrapper driven by the BEHEMOTH AgentBoard adapter):
- the level is `gymnasium.make(game_name)` reset with the target's seed (1234 for every released target, so
  the targets of one game share one runtime level and mission; each still scores its own `obs_to_reward`);
- the agent's goal is the runtime mission ("then" / "after you" read as "and"), not the target's `goal`;
- the reward is the fraction of `obs_to_reward` patterns seen in observations after successful moves, at
  most one pattern credited per turn; a reward of 1 ends the episode; minigrid's own "done" with a reward of
  0.5 or less does not (its "The task is completed." line stays in the observation all the same);
- the verb that picks up is `pickup <obj> <n>`; the prompt's `pick up ...` is "not recognized";
- success is a reward of 1; the step cap (20) always applies.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import importlib.util
import io
import threading
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from clue.bench.data.datasets import step_cap_of
from clue.bench.envs.babyai_prompt import first_user_message_with_goal, system_prompt
from clue.bench.envs.babyai_text import ActionSpace, action_space, describe, read_view
from clue.bench.envs.base import EnvironmentUnavailable, EnvSpec, Outcome, StepResult, Transcript, TranscriptStep
from clue.errors import BadInputError

MINIGRID_VERSION = "3.2.0"
STEP_CAP = step_cap_of("babyai")  # the dataset entry's cap (clue.bench.data.entries.babyai)
COMPLETED = "\n The task is completed."
NOT_COMPLETED = "\n The task is not completed."  # the harness's closing notice on a failed episode
NOT_RECOGNIZED = "The action is not recognized. Please check valid actions."
NO_CHANGE = "No change in state."

_MAKE_LOCK = threading.Lock()  # gymnasium's registry is not thread-safe on first import; stdout is shared


def missing(env_root: Path) -> str | None:
    """What BabyAI lacks to run here (it needs no files under env_root), or None."""
    for package in ("minigrid", "gymnasium"):
        if importlib.util.find_spec(package) is None:
            return f"babyai needs the Python package {package} (pip install 'clue[agentic]')"
    version = importlib.metadata.version("minigrid")
    if version != MINIGRID_VERSION:
        return f"babyai needs minigrid=={MINIGRID_VERSION}, found {version} (pip install 'clue[agentic]')"
    return None


def import_levels() -> None:
    """Import gymnasium and minigrid (which registers the BabyAI levels); the pool calls it once."""
    with _MAKE_LOCK:
        import gymnasium  # noqa: F401  (installs its own warning filter on first import: import before ours)
        import minigrid  # noqa: F401


def _make_level(game_name: str) -> Any:
    # gymnasium warns that the v0 levels are out of date; the reference plays v0 all the same.
    with _MAKE_LOCK:
        import gymnasium  # installs its own warning filter on first import: import before ours
        import minigrid  # noqa: F401  (registers the BabyAI levels with gymnasium)

    with _MAKE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return gymnasium.make(game_name)
        except gymnasium.error.DeprecatedEnv:
            if not game_name.endswith("-v0"):
                raise
            return gymnasium.make(game_name[:-3] + "-v1")


def mission_as_goal(mission: str) -> str:
    """The reference turns sequencing words into "and" before showing the mission as the goal."""
    goal = mission.replace("then", "and") if "then" in mission else mission
    return goal.replace("after you", "and") if "after you" in goal else goal


def _reset_level(level: Any, seed: int) -> Any:
    """Reset quietly: minigrid prints a line for every rejected level sample."""
    with _MAKE_LOCK, contextlib.redirect_stdout(io.StringIO()):
        observation, _ = level.reset(seed=seed)
    return observation


@lru_cache(maxsize=256)
def runtime_goal(game_name: str, seed: int) -> str:
    """The goal the agent is given: the mission of the level built from (game_name, seed)."""
    level = _make_level(game_name)
    try:
        _reset_level(level, seed)
        return mission_as_goal(str(level.unwrapped.mission))
    finally:
        level.close()


def target_goal(target: Mapping[str, Any]) -> str:
    return runtime_goal(str(target["game_name"]), int(target.get("seed", 1234)))


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    return first_user_message_with_goal(target_goal(target), observation, memory_block, examples=examples)


def _pattern_seen(observation: str, pattern: str) -> bool:
    """All `**`-separated (else `*`-separated) parts of the pattern occur in one '.'-delimited sentence."""
    pattern = pattern.strip()
    parts = [part.strip(".") for part in pattern.split("**" if "**" in pattern else "*")]
    return any(all(part in sentence for part in parts) for sentence in observation.split("."))


class RewardPatterns:
    """`obs_to_reward` progress: each pattern counts once; one pattern at most per observation.

    A flat list holds alternative-free patterns. A list of lists holds alternative paths: pattern i of any
    path credits step i, which is then struck from every path.
    """

    def __init__(self, patterns: list[Any]) -> None:
        self.pending = copy.deepcopy(patterns)
        self.total = len(patterns[0]) if patterns and isinstance(patterns[0], list) else len(patterns)
        self.points = 0

    def credit(self, observation: str) -> bool:
        if not self.pending:
            return False
        if isinstance(self.pending[0], list):
            for index in range(len(self.pending[0])):
                if any(_pattern_seen(observation, path[index]) for path in self.pending):
                    for path in self.pending:
                        path.remove(path[index])
                    self.points += 1
                    return True
            return False
        for pattern in self.pending:
            if _pattern_seen(observation, pattern):
                self.pending.remove(pattern)
                self.points += 1
                return True
        return False


class BabyAIEnvironment:
    """One BabyAI episode at a time behind the Environment protocol."""

    def __init__(self, step_cap: int = STEP_CAP) -> None:
        self.step_cap = step_cap
        self._level: Any = None
        self.goal = ""
        self._image: Any = None
        self._space = ActionSpace()
        self._patterns: RewardPatterns | None = None
        self._reward = 0.0
        self._done = False
        self._steps = 0

    def reset(self, target: Mapping[str, Any]) -> str:
        self.close()
        self._level = _make_level(str(target["game_name"]))
        observation = _reset_level(self._level, int(target.get("seed", 1234)))
        self.goal = mission_as_goal(str(self._level.unwrapped.mission))
        patterns = target.get("obs_to_reward")
        self._patterns = RewardPatterns(list(patterns)) if patterns is not None else None
        self._reward, self._done, self._steps = 0.0, False, 0
        return self._look(observation)

    def _look(self, observation: Any) -> str:
        self._image = observation["image"]
        view = read_view(self._level.unwrapped, observation["image"], int(observation["direction"]))
        self._space = action_space(view)
        return describe(view)

    def valid_actions(self) -> list[str] | None:
        return list(self._space.moves)

    def step(self, action: str) -> StepResult:
        if self._level is None:
            raise RuntimeError("BabyAIEnvironment.step called before reset")
        self._steps += 1
        command = action.lower().strip()
        valid = True
        if "check" in command:
            text = "You can take the following actions: " + ", ".join(self._space.moves)
        elif command == "" or command not in self._space.moves:
            valid = False
            text = NO_CHANGE if command == "" else self._space.refusals.get(command, NOT_RECOGNIZED)
        elif not self._space.moves[command]:
            text = NO_CHANGE
        else:
            text = self._act(self._space.moves[command])
        capped = self._steps >= self.step_cap
        return StepResult(text, self._reward, self._done or capped,
                          {"action_is_valid": valid, "truncated": capped and not self._done})

    def _act(self, moves: list[int]) -> str:
        image = self._image
        for move in moves:
            observation, env_reward, terminated, _, _ = self._level.step(move)
            if not (observation["image"] != image).any():
                break  # the move changed nothing (blocked): stop the expansion here, as the reference does
            image = observation["image"]
        text = self._look(observation)
        if terminated:
            text += COMPLETED
        if self._patterns is None:
            self._reward = float(env_reward)
        elif self._patterns.credit(text) and self._patterns.total:
            self._reward = max(self._reward, self._patterns.points / self._patterns.total)
        self._done = bool(terminated) and self._reward > 0.5
        if self._reward == 1 and not self._done:
            self._done = True
            text += COMPLETED
        return text

    def outcome(self) -> Outcome:
        return Outcome(success=self._reward >= 1.0, reward=self._reward, steps=self._steps)

    def close(self) -> None:
        if self._level is not None:
            self._level.close()
            self._level = None


def make(env_root: Path) -> BabyAIEnvironment:
    problem = missing(env_root)
    if problem:
        raise EnvironmentUnavailable(problem)
    return BabyAIEnvironment()


def parse_action(reply: str) -> str:
    """The reference's reading: the last line starting with "Action:" (else the whole reply), prefix and
    trailing periods removed. The environment lower-cases it."""
    text = reply.strip()
    line = next((row.strip() for row in reversed(text.splitlines()) if row.strip().lower().startswith("action:")),
                text)
    if line.lower().startswith("action:"):
        line = line[len("action:"):].strip()
    return line.rstrip(".")


def initial_observation(first_user_message_text: str) -> str:
    return first_user_message_text.rpartition("\n\nObservation: ")[2]


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A released BabyAI 1-shot run: first observation from the first user turn, then (action, observation)."""
    messages = record["messages"]
    observations = [message["content"] for message in messages[2:] if message["role"] == "user"]
    trajectory = record["trajectory"]
    if len(observations) != len(trajectory):
        raise BadInputError(f"babyai transcript {record['id']}: {len(trajectory)} actions but "
                         f"{len(observations)} observations")
    if observations and not record["success"] and observations[-1].endswith(NOT_COMPLETED):
        observations[-1] = observations[-1][: -len(NOT_COMPLETED)]
    steps = [TranscriptStep(action=str(item["action"]), observation=text, reward=float(item["reward"]))
             for item, text in zip(trajectory, observations, strict=True)]
    return Transcript(target_id=int(record["id"]), initial_observation=initial_observation(messages[1]["content"]),
                      steps=steps, success=bool(record["success"]), reward=float(record["reward"]))


def closing_messages(outcome: Outcome, last_observation: str) -> list[str]:
    """BabyAI's transcripts end on the last observation, with the harness's notice appended on a failure."""
    return [last_observation if outcome.success else last_observation + NOT_COMPLETED]


SPEC = EnvSpec(
    dataset="babyai",
    step_cap=STEP_CAP,
    memory_placement="user",
    make=make,
    missing=missing,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=parse_action,
    parse_transcript=parse_transcript,
    pool_size=2,
    preload=import_levels,
    goal=target_goal,
    closing_messages=closing_messages,
)
