"""A small built-in environment: a room with a drawer, a key and a locked chest.

It ships so the episode solver, the pool and `clue` itself can be exercised with no optional package: the
agent must open the drawer, take the key and open the chest, in that order. Every target names which item
hides the key, so the right plan differs between targets and a memory of an earlier one can help.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clue.bench.envs.base import EnvSpec, Outcome, StepResult, Transcript, TranscriptStep

PLACES = ("drawer", "cabinet", "box")
_ACTION_LINE = re.compile(r"^\s*action\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


class ToyRoom:
    """The environment. `reset` picks the target's hiding place; `step` takes one action."""

    def __init__(self) -> None:
        self.hiding_place = "drawer"
        self.opened: set[str] = set()
        self.has_key = False
        self.chest_open = False
        self.steps = 0
        self.resets = 0

    def reset(self, target: Mapping[str, Any]) -> str:
        self.hiding_place = str(target.get("hiding_place", "drawer"))
        self.opened, self.has_key, self.chest_open, self.steps = set(), False, False, 0
        self.resets += 1
        return f"You are in a room. You see a {', a '.join(PLACES)} and a locked chest."

    def valid_actions(self) -> list[str] | None:
        actions = [f"open {place}" for place in PLACES if place not in self.opened]
        if self.hiding_place in self.opened and not self.has_key:
            actions.append("take key")
        if not self.chest_open:
            actions.append("open chest")
        return actions

    def step(self, action: str) -> StepResult:
        self.steps += 1
        action = action.strip().lower().rstrip(".")
        observation = self._apply(action)
        return StepResult(observation=observation, reward=self._reward(), done=self.chest_open,
                          info={"valid": observation != "Nothing happens."})

    def _apply(self, action: str) -> str:
        if action.startswith("open ") and action[5:] in PLACES:
            place = action[5:]
            self.opened.add(place)
            inside = "a key" if place == self.hiding_place and not self.has_key else "nothing"
            return f"You open the {place}. Inside you see {inside}."
        if action == "take key" and self.hiding_place in self.opened and not self.has_key:
            self.has_key = True
            return "You take the key."
        if action == "open chest":
            if not self.has_key:
                return "The chest is locked."
            self.chest_open = True
            return "You unlock the chest with the key and open it."
        return "Nothing happens."

    def _reward(self) -> float:
        return (float(self.hiding_place in self.opened) + float(self.has_key) + float(self.chest_open)) / 3

    def outcome(self) -> Outcome:
        return Outcome(success=self.chest_open, reward=1.0 if self.chest_open else self._reward(),
                       steps=self.steps)

    def close(self) -> None:
        self.opened.clear()


def _system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    return ("You act in a text world, one action per reply. End every reply with a line 'Action: <action>'. "
            "Actions: open <thing>, take key, open chest, check valid actions.")


def _first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                        examples: int = 1) -> str:
    parts = [f"Your goal: {target.get('goal', 'open the chest')}."]
    if memory_block:
        parts.append(memory_block)
    parts.append(f"Observation: {observation}")
    return "\n\n".join(parts)


def parse_action(reply: str) -> str:
    """The last 'Action: ...' line, else the reply's last non-empty line."""
    found = _ACTION_LINE.findall(reply)
    if found:
        return str(found[-1]).strip()
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _parse_transcript(record: Mapping[str, Any]) -> Transcript:
    steps = [TranscriptStep(action=str(a), observation=str(o))
             for a, o in zip(record.get("actions", []), record.get("observations", []), strict=False)]
    return Transcript(target_id=int(record["id"]), initial_observation=record.get("initial_observation"),
                      steps=steps, success=bool(record.get("success")), reward=float(record.get("reward", 0.0)))


def make(env_root: Path) -> ToyRoom:
    return ToyRoom()


SPEC = EnvSpec(
    dataset="toy",
    step_cap=6,
    memory_placement="system",
    make=make,
    missing=lambda env_root: None,
    system_prompt=_system_prompt,
    first_user_message=_first_user_message,
    parse_action=parse_action,
    parse_transcript=_parse_transcript,
    pool_size=2,
    valid_actions_command="check valid actions",
)
