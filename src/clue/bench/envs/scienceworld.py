"""ScienceWorld (`scienceworld==1.2.2`, a Scala simulator behind py4j) as BEHEMOTH plays it.

The rules follow the reference (the BEHEMOTH AgentBoard adapter's ScienceWorld wrapper):
- a fresh simulator (JVM) per episode, loaded with the target's `task_name` / `var` and the simplifications
  below; reusing one simulator across episodes changes gold paths and outcomes;
- the first observation is "look around" followed by the inventory on a new line;
- `check valid actions` (exactly) lists the action templates without stepping the simulator; anything else
  goes to the simulator as typed;
- the reward is the fraction of the target's `subgoals` (regular expressions) found in any step observation
  so far; the episode is done, and a success, when all are found; the simulator's own score is unused;
- the step cap (30 agent turns) always applies.
Pin exactly 1.2.2: 1.2.3 opens containers at reset and diverges from the released transcripts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from clue.bench.data.datasets import step_cap_of
from clue.bench.envs.base import (
    EnvironmentFailure,
    EnvironmentUnavailable,
    EnvSpec,
    Outcome,
    StepResult,
    Transcript,
    TranscriptStep,
)
from clue.bench.envs.scienceworld_prompt import first_user_message, system_prompt, target_goal
from clue.bench.envs.scienceworld_supply import Simulator, SimulatorSupply, import_simulator, shared_supply
from clue.errors import BadInputError

SCIENCEWORLD_VERSION = "1.2.2"
STEP_CAP = step_cap_of("scienceworld")  # the dataset entry's cap (clue.bench.data.entries.scienceworld)
SIMPLIFICATIONS = "selfWateringFlowerPots,openContainers,openDoors,noElectricalAction"
CHECK_VALID = "check valid actions"
OUTCOME_NOTICES = ("You successfully finished this task!", "You failed the task.")  # the harness's last turn


@lru_cache(maxsize=1)
def _java_problem() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "scienceworld needs Java 8 or newer on PATH (Debian: apt-get install -y openjdk-17-jre-headless)"
    try:
        probe = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"scienceworld needs a working Java; `{java} -version` failed: {error}"
    if probe.returncode != 0:
        return f"scienceworld needs a working Java; `{java} -version` exited {probe.returncode}"
    return None


def missing(env_root: Path) -> str | None:
    """What ScienceWorld lacks to run here (package, Java), or None. It needs no files under env_root."""
    if importlib.util.find_spec("scienceworld") is None:
        return (f"scienceworld needs the Python package scienceworld=={SCIENCEWORLD_VERSION} "
                "(pip install 'clue[agentic]')")
    version = importlib.metadata.version("scienceworld")
    if version != SCIENCEWORLD_VERSION:
        return (f"scienceworld needs scienceworld=={SCIENCEWORLD_VERSION} exactly, found {version} "
                "(later versions open containers at reset)")
    return _java_problem()


class SubgoalProgress:
    """The BEHEMOTH reward: which `subgoals` regexes have matched some step observation."""

    def __init__(self, subgoals: list[str]) -> None:
        self.patterns = [re.compile(pattern) for pattern in subgoals]
        self.found = [False] * len(subgoals)

    def see(self, observation: str) -> None:
        for index, pattern in enumerate(self.patterns):
            if pattern.search(observation):
                self.found[index] = True

    @property
    def reward(self) -> float:
        return sum(self.found) / len(self.found) if self.found else 0.0

    @property
    def complete(self) -> bool:
        return all(self.found)


class ScienceWorldEnvironment:
    """One ScienceWorld episode on its own fresh simulator, behind the Environment protocol."""

    def __init__(self, supply: SimulatorSupply, step_cap: int = STEP_CAP) -> None:
        self.supply = supply
        self.step_cap = step_cap
        self._simulator: Simulator | None = None
        self._progress = SubgoalProgress([])
        self._done = False
        self._steps = 0

    def reset(self, target: Mapping[str, Any]) -> str:
        self.close()
        self._simulator = self.supply.take()
        try:
            self._simulator.load(str(target["task_name"]), int(target["var"]), simplificationStr=SIMPLIFICATIONS)
            observation, _ = self._simulator.reset()
            inventory = self._simulator.inventory()
        except Exception as error:  # py4j errors: the JVM died or refused the task
            self.close()
            task = target.get("task_name")
            raise EnvironmentFailure(f"scienceworld could not start task {task!r}: {error}") from error
        self._progress = SubgoalProgress(list(target.get("subgoals", [])))
        self._done, self._steps = False, 0
        return f"{observation}\n{inventory}"

    def _simulator_or_fail(self) -> Simulator:
        if self._simulator is None:
            raise RuntimeError("ScienceWorldEnvironment used before reset")
        return self._simulator

    def valid_actions(self) -> list[str] | None:
        return [action for action in self._simulator_or_fail().get_possible_actions() if "reset" not in action]

    def step(self, action: str) -> StepResult:
        simulator = self._simulator_or_fail()
        self._steps += 1
        command = action.strip()
        if command == CHECK_VALID:
            listing = ", ".join(self.valid_actions() or [])
            observation = f"Choose an action from these valid actions: {listing}"
            valid = True
        else:
            try:
                observation = str(simulator.step(command)[0])
                valid = command in (self.valid_actions() or [])
            except Exception as error:
                raise EnvironmentFailure(f"scienceworld failed on action {command!r}: {error}") from error
            self._progress.see(observation)
            self._done = self._progress.complete
        capped = self._steps >= self.step_cap
        return StepResult(observation, self._progress.reward, self._done or capped,
                          {"action_is_valid": valid, "truncated": capped and not self._done})

    def outcome(self) -> Outcome:
        reward = self._progress.reward
        return Outcome(success=self._done or reward >= 1.0, reward=reward, steps=self._steps)

    def close(self) -> None:
        if self._simulator is not None:
            simulator, self._simulator = self._simulator, None
            self.supply.discard(simulator)


def make(env_root: Path) -> ScienceWorldEnvironment:
    problem = missing(env_root)
    if problem:
        raise EnvironmentUnavailable(problem)
    return ScienceWorldEnvironment(shared_supply())


def parse_action(reply: str) -> str:
    """The reference's reading: the last line starting with "Action:" (any case), else the whole reply."""
    text = reply.strip()
    line = next((row.strip() for row in reversed(text.splitlines()) if row.strip().lower().startswith("action:")),
                text)
    return line[len("action:"):].strip() if line.lower().startswith("action:") else line


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A released ScienceWorld 1-shot run. Its last user turn is the harness's outcome notice, not an observation."""
    messages = record["messages"]
    observations = [message["content"] for message in messages[2:] if message["role"] == "user"]
    if observations and observations[-1] in OUTCOME_NOTICES:
        observations.pop()
    trajectory = record["trajectory"]
    if len(observations) != len(trajectory):
        raise BadInputError(f"scienceworld transcript {record['id']}: {len(trajectory)} actions but "
                         f"{len(observations)} observations")
    steps = [TranscriptStep(action=str(item["action"]), observation=text, reward=float(item["reward"]))
             for item, text in zip(trajectory, observations, strict=True)]
    first = messages[1]["content"].rpartition("\n\nObservation: ")[2]
    return Transcript(target_id=int(record["id"]), initial_observation=first, steps=steps,
                      success=bool(record["success"]), reward=float(record["reward"]))


SPEC = EnvSpec(
    dataset="scienceworld",
    step_cap=STEP_CAP,
    memory_placement="user",
    make=make,
    missing=missing,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=parse_action,
    parse_transcript=parse_transcript,
    pool_size=2,
    preload=import_simulator,
    goal=target_goal,
)
