"""The ScienceWorld agent's prompt, AgentBoard style (our wording, the reference's layout and intent).

- system: a one-line role;
- first user turn: the command list, one example episode, the retrieved-memory block (when there is one),
  the goal (the target's `modified_goal`), the two help commands, then the first observation;
- later user turns: the bare observation.
The example episode is the simulator's own gold path for boiling water (`examples/scienceworld.json`),
played with the reference's simplifications.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

SYSTEM = "You are an agent working in a simulated science school; act in it to complete the task you are given."

INSTRUCTION = """You act in a simulated science school by typing commands. The commands:

- Handling things:
  - `open {OBJ}` / `close {OBJ}`: open or close a container.
  - `pick up {OBJ}`: take something into your inventory.
  - `put down {OBJ}`: leave something from your inventory here.
  - `move {OBJ} to {OBJ}`: place one thing in or on another.
  - `pour {OBJ} into {OBJ}`: pour a substance.
  - `dunk {OBJ} into {OBJ}`: dip a container into a liquid.
  - `mix {OBJ}`: mix what a container holds.

- Looking:
  - `look around`: describe the room you are in.
  - `look at {OBJ}`: describe one thing.
  - `look in {OBJ}`: see what a container holds.
  - `read {OBJ}`: read what is written on something.

- Devices:
  - `activate {OBJ}` / `deactivate {OBJ}`: switch a device on or off.
  - `use {OBJ} [on {OBJ}]`: use a tool or device, optionally on something.

- Moving:
  - `go to {LOC}`: walk to a neighbouring location.

- Other:
  - `eat {OBJ}`: eat something edible.
  - `flush {OBJ}`: flush something.
  - `focus on {OBJ}`: mark the thing the task is about.
  - `wait [DURATION]`: let time pass.

- About the task:
  - `task`: repeat the task.
  - `inventory`: list what you carry.

`{OBJ}` is a thing, `{LOC}` a location, `[DURATION]` a number of time steps."""


@lru_cache(maxsize=1)
def example_episode() -> dict[str, Any]:
    text = resources.files("clue.bench.envs").joinpath("examples/scienceworld.json").read_text(encoding="utf-8")
    episode: dict[str, Any] = json.loads(text)
    return episode


def example_text() -> str:
    episode = example_episode()
    turns = [f"ACTION: {action}\nOBSERVATION: {observation}" for action, observation in episode["steps"]]
    return f"Task Description: {episode['task_description']}\n\n" + "\n\n".join(turns)


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    return SYSTEM


def target_goal(target: Mapping[str, Any]) -> str:
    return str(target.get("modified_goal") or target.get("goal") or target["task_name"])


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    goal = target_goal(target)
    parts = [INSTRUCTION, *(["Here is an example episode:\n" + example_text()] if examples > 0 else [])]
    if memory_block.strip():
        parts.append(memory_block.strip())
    parts += [
        f"Your goal: {goal}",
        "When a command is not understood, `check valid actions` lists the command forms.\n"
        "When a command is not understood, `inventory` lists what you carry.",
        f"Observation: {observation}",
    ]
    return "\n\n".join(parts)
