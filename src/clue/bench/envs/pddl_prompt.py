"""The PDDL agent's prompt, GMemory style (our wording, the reference's layout and intent).

- system: the game's rules and action forms, the `think:` form, a reminder to use only those actions,
  then one example episode (1-shot); the retrieved-memory block is appended to it by the solver;
- first user turn: the initial observation and the goal (the environment's first observation);
- later user turns: the bare observation.
The example episodes were played in our own environment on small problems of our own (not targets).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from clue.errors import BadInputError

THINK_FORM = """- think: <your reasoning>
  Write it exactly as `think: ...` on one line; it uses a step and changes nothing."""

CLOSING_NOTES = """## Rules
- Use only the actions above, one per reply, on a single line.
- Check that each action you write matches one of these forms before you send it.
- `check valid actions` lists what you can do right now."""

INSTRUCTIONS: dict[str, str] = {
    "blockworld": f"""You control a robot arm in a world of blocks. Blocks stand on the table or on each other; \
the arm holds at most one block at a time.

## Actions
{THINK_FORM}
- pickup <block>: lift a clear block from the table with an empty arm; the arm then holds it.
- putdown <block>: set the held block on the table; it becomes clear and the arm empty.
- stack <block> <block>: put the held (first) block on the second block, which must be clear; the arm \
becomes empty and the second block is no longer clear.
- unstack <block> <block>: lift the first block, which must be clear, off the second with an empty arm; \
the second block becomes clear.

{CLOSING_NOTES}""",
    "barman": f"""You are a robot barman with two hands (left and right) serving drinks with dispensers, shot \
glasses and a shaker. A cocktail is made by pouring its two ingredients into the shaker, shaking, and pouring \
the result into a shot glass.

## Actions
{THINK_FORM}
- <hand> grasp <container>: take a container from the table into an empty hand.
- <hand> leave <container>: put a held container back on the table.
- fill-shot <shot> <ingredient> <hand1> <hand2> <dispenser>: fill the held, clean, empty shot glass \
(hand1) from a dispenser while hand2 is empty.
- refill-shot <shot> <ingredient> <hand1> <hand2> <dispenser>: refill a held empty shot glass that last held \
the same ingredient.
- empty-shot <hand> <shot> <beverage>: pour out the held shot glass.
- clean-shot <shot> <beverage> <hand1> <hand2>: clean the held empty shot glass (hand1) with hand2 empty.
- pour-shot-to-clean-shaker <shot> <ingredient> <shaker> <hand1> <level1> <level2>: pour the held shot \
glass into an empty clean shaker, raising its level from level1 to level2.
- pour-shot-to-used-shaker <shot> <ingredient> <shaker> <hand1> <level1> <level2>: the same into an \
unshaken shaker that is not full.
- empty-shaker <hand> <shaker> <cocktail> <level1> <level2>: empty the held shaker of a shaken drink.
- clean-shaker <hand1> <hand2> <shaker>: clean the held empty shaker with the other hand empty.
- shake <cocktail> <ingredient1> <ingredient2> <shaker> <hand1> <hand2>: shake the held shaker (other \
hand empty) holding exactly the cocktail's two ingredients.
- pour-shaker-to-shot <beverage> <shot> <hand> <shaker> <level1> <level2>: pour the shaken drink from the \
held shaker into a clean empty shot glass, lowering the shaker from level1 to level2.

{CLOSING_NOTES}""",
    "gripper": f"""You are Robby, a robot with two grippers (left and right) that carries balls between rooms.

## Actions
{THINK_FORM}
- move <room1> <room2>: go from the room you are in to another room.
- pick <ball> <room> <gripper>: pick up a ball in your room with a free gripper.
- drop <ball> <room> <gripper>: put down a ball the gripper carries in your room; the gripper becomes free.

{CLOSING_NOTES}""",
    "tyreworld": f"""You must replace flat tyres with intact, inflated ones. The tools (wrench, jack, pump) and \
spare wheels start in the boot, so open it first. At the end the nuts must be tight, the flat tyres and the \
tools back in the boot, and the boot closed.

## Actions
{THINK_FORM}
- open <container> / close <container>: open an unlocked closed container, or close an open one.
- fetch <object> <container>: take an object out of an open container.
- put-away <object> <container>: put a held object into an open container.
- loosen <nut> <hub> / tighten <nut> <hub>: with the wrench, loosen a tight nut or tighten a loose one \
on a hub that stands on the ground.
- jack-up <hub>: lift a hub on the ground with the jack (you no longer hold the jack).
- jack-down <hub>: lower a lifted hub (you get the jack back).
- undo <nut> <hub>: with the wrench, take a loose nut off a lifted, fastened hub; the hub becomes unfastened.
- do-up <nut> <hub>: with the wrench, put a held nut on a lifted, unfastened hub; it is loose and the hub \
fastened.
- remove-wheel <wheel> <hub>: take the wheel off a lifted, unfastened hub.
- put-on-wheel <wheel> <hub>: put a held wheel on a lifted, unfastened, free hub.
- inflate <wheel>: inflate an intact wheel with the pump.

{CLOSING_NOTES}""",
}

@cache
def example_episode(game: str) -> dict[str, Any]:
    """The game's example episode (`examples/pddl/<game>.json`), played in our environment on the small
    problem beside it (`examples/pddl/<game>.pddl`); the tests replay it."""
    text = resources.files("clue.bench.envs").joinpath(f"examples/pddl/{game}.json").read_text(encoding="utf-8")
    episode: dict[str, Any] = json.loads(text)
    return episode


def example_text(game: str) -> str:
    episode = example_episode(game)
    lines = [f"Goal: {episode['goal'].strip()}", f"Observation: {episode['initial_observation'].strip()}"]
    for action, observation in episode["steps"]:
        lines += [f"Action: {action}", f"Observation: {observation.strip()}"]
    return "\n".join(lines)


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    """The game's instruction, then (examples=1) one example episode of the game."""
    game = str(target.get("game_name", ""))
    instruction = INSTRUCTIONS.get(game)
    if instruction is None:
        raise BadInputError(f"pddl has no prompt for game {game!r}")
    if examples <= 0:
        return instruction
    return f"{instruction}\n\nHere is an example:\n\n{example_text(game)}\n"


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    return f"{memory_block}\n\n{observation}" if memory_block else observation
