"""A small deterministic environment for command tests, registered in place of a real one.

The goal is to say `up` as many times as the target's id modulo 3 plus one, then `done`. `valid` lists
`up` and `done`; anything else is refused without changing the state. The reward is the progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.bench.envs.base import EnvironmentUnavailable, EnvSpec, Outcome, StepResult, Transcript

NEEDED_FILE = "counting.txt"


class CountingEnvironment:
    def __init__(self) -> None:
        self.goal = 1
        self.count = 0
        self.steps = 0
        self.won = False

    def reset(self, target: Mapping[str, Any]) -> str:
        self.goal = int(target["id"]) % 3 + 1
        self.count, self.steps, self.won = 0, 0, False
        return f"Say up {self.goal} times, then done."

    def step(self, action: str) -> StepResult:
        self.steps += 1
        if action == "up":
            self.count += 1
            return StepResult(f"count {self.count}", self.outcome().reward, False)
        if action == "done":
            self.won = self.count == self.goal
            return StepResult("you won" if self.won else "you lost", self.outcome().reward, True)
        return StepResult("not understood", self.outcome().reward, False)

    def valid_actions(self) -> list[str] | None:
        return ["up", "done"]

    def outcome(self) -> Outcome:
        reward = 1.0 if self.won else min(self.count, self.goal) / (self.goal + 1)
        return Outcome(success=self.won, reward=reward, steps=self.steps)

    def close(self) -> None:
        pass


def _missing(env_root: Path) -> str | None:
    return None if (env_root / NEEDED_FILE).is_file() else f"counting needs {env_root / NEEDED_FILE}"


def _make(env_root: Path) -> CountingEnvironment:
    reason = _missing(env_root)
    if reason is not None:
        raise EnvironmentUnavailable(reason)
    return CountingEnvironment()


def _no_transcript(record: Mapping[str, Any]) -> Transcript:
    return Transcript(target_id=int(record["id"]), initial_observation=None, steps=[], success=False, reward=0.0)


SPEC = EnvSpec(dataset="counting", step_cap=5, memory_placement="system", make=_make, missing=_missing,
               system_prompt=lambda target, *, examples=1: "Count.",
               first_user_message=lambda target, obs, memory, *, examples=1: obs,
               parse_action=str.strip, parse_transcript=_no_transcript)
