"""The BabyAI agent's prompt, AgentBoard style (our wording, the reference's layout and intent).

- system: a one-line role;
- first user turn: the action list, one example episode, the retrieved-memory block (when there is one),
  the goal, the two help commands, then the first observation;
- later user turns: the bare observation.
The action list advertises `pick up <obj> <id>` as the reference's does, although the environment only
accepts `pickup <obj> <id>` (the example's `check valid actions` shows the accepted form).
The example episode was played in our own environment (`examples/babyai.json`); the tests replay it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

SYSTEM = "You are an explorer who sees every goal you are given through to the end."

INSTRUCTION = """You are in a grid world of rooms and must reach the goal below by taking actions one at a time.

The actions you can take:

- turn right

- turn left

- move forward

- go to <obj> <id>

- pick up <obj> <id>

- go through <door> <id>: only for a door that is open.

- toggle and go through <door> <id>: for a closed or locked door. A locked door opens only while you carry \
a key of the door's colour.

- toggle: opens the closed or locked door right in front of you."""


@lru_cache(maxsize=1)
def example_episode() -> dict[str, Any]:
    text = resources.files("clue.bench.envs").joinpath("examples/babyai.json").read_text(encoding="utf-8")
    episode: dict[str, Any] = json.loads(text)
    return episode


def example_text() -> str:
    episode = example_episode()
    lines = [f"Observation: {episode['initial_observation']}"]
    for action, observation in episode["steps"]:
        lines += [f"Action: {action}", f"Observation: {observation}"]
    return "\n".join(lines)


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    return SYSTEM


def first_user_message_with_goal(goal: str, observation: str, memory_block: str, *, examples: int = 1) -> str:
    """`observation` is the runtime first observation; `goal` the runtime mission (`babyai.runtime_goal`)."""
    parts = [INSTRUCTION, *(["Here is an example episode:\n" + example_text()] if examples > 0 else [])]
    if memory_block.strip():
        parts.append(memory_block.strip())
    parts += [
        f"Your goal: {goal}",
        "When an action is not understood, `check valid actions` lists what you can do now.\n"
        "When an action is not understood, `inventory` shows what you hold.",
        f"Observation: {observation}",
    ]
    return "\n\n".join(parts)
