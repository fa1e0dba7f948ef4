"""The ALFWorld agent's prompt, GMemory style (our wording, the reference's layout and intent).

- system: the household setting, the exact command forms (insisting on "put X in/on Y"), the `think:`
  form, then one ReAct example episode of the target's task type (1-shot); the retrieved-memory block is
  appended to it by the solver;
- first user turn: the room and the task (the environment's first observation);
- later user turns: the bare observation.
The examples are our own short episodes in the games' observation style, one per task type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clue.errors import BadInputError

INSTRUCTION = """You are an agent in a simulated household (ALFWorld). Your tasks are chores such as finding \
objects, moving them, and heating, cooling or cleaning them before putting them somewhere.

## Commands (a and b stand for objects and places, always with their number)
1. go to a
2. open a
3. take a from b
4. put a in/on b
   Always write "in/on" as one word pair: "put mug 1 in/on shelf 2". "put mug 1 in shelf 2" or
   "put mug 1 on shelf 2" is not understood.
5. clean a with b
6. heat a with b
7. cool a with b
8. use a
9. think: <your reasoning>

## Rules
- Reply with exactly one command, on a single line, in one of the forms above.
- Anything else is not understood by the household and wastes a step.
"""

EXAMPLES: dict[str, str] = {
    "put": """You are in the middle of a room. Looking quickly around you, you see a bed 1, a desk 1, a drawer 2, \
a drawer 1, a garbagecan 1, a shelf 2, a shelf 1, and a sidetable 1.
Your task is to: put a book in desk.
> think: I need a book first, then I put it on the desk 1.
OK.
> think: Books are usually on a shelf, the bed or the sidetable. I will look at shelf 1 first.
OK.
> go to shelf 1
On the shelf 1, you see a pencil 1.
> go to bed 1
On the bed 1, you see a book 2, and a pillow 1.
> take book 2 from bed 1
You pick up the book 2 from the bed 1.
> go to desk 1
On the desk 1, you see a lamp 1.
> put book 2 in/on desk 1
You put the book 2 in/on the desk 1.
""",
    "clean": """You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, \
a countertop 1, a fridge 1, a garbagecan 1, a sinkbasin 1, and a stoveburner 1.
Your task is to: put a clean spoon in cabinet.
> think: I must find a spoon, wash it at the sinkbasin 1, then put it in a cabinet.
OK.
> go to countertop 1
On the countertop 1, you see a bread 1, and a spoon 3.
> take spoon 3 from countertop 1
You pick up the spoon 3 from the countertop 1.
> go to sinkbasin 1
On the sinkbasin 1, you see nothing.
> clean spoon 3 with sinkbasin 1
You clean the spoon 3 using the sinkbasin 1.
> go to cabinet 1
The cabinet 1 is closed.
> open cabinet 1
You open the cabinet 1. The cabinet 1 is open. In it, you see nothing.
> put spoon 3 in/on cabinet 1
You put the spoon 3 in/on the cabinet 1.
""",
    "heat": """You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 2, \
a countertop 1, a diningtable 1, a fridge 1, a microwave 1, and a sinkbasin 1.
Your task is to: heat some potato and put it in diningtable.
> think: I need a potato, the microwave 1 to heat it, then the diningtable 1.
OK.
> go to countertop 1
On the countertop 1, you see a knife 1.
> go to countertop 2
On the countertop 2, you see a potato 1, and a tomato 2.
> take potato 1 from countertop 2
You pick up the potato 1 from the countertop 2.
> go to microwave 1
The microwave 1 is closed.
> heat potato 1 with microwave 1
You heat the potato 1 using the microwave 1.
> go to diningtable 1
On the diningtable 1, you see a plate 1.
> put potato 1 in/on diningtable 1
You put the potato 1 in/on the diningtable 1.
""",
    "cool": """You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 1, \
a fridge 1, a garbagecan 1, a shelf 1, and a sinkbasin 1.
Your task is to: cool some cup and put it in shelf.
> think: I need a cup, cool it with the fridge 1, then put it on the shelf 1.
OK.
> go to sinkbasin 1
On the sinkbasin 1, you see a cup 2.
> take cup 2 from sinkbasin 1
You pick up the cup 2 from the sinkbasin 1.
> go to fridge 1
The fridge 1 is closed.
> cool cup 2 with fridge 1
You cool the cup 2 using the fridge 1.
> go to shelf 1
On the shelf 1, you see nothing.
> put cup 2 in/on shelf 1
You put the cup 2 in/on the shelf 1.
""",
    "examine": """You are in the middle of a room. Looking quickly around you, you see a bed 1, a drawer 1, \
a dresser 1, a shelf 1, and a sidetable 1.
Your task is to: examine the watch with the desklamp.
> think: I need to find the watch, carry it, then find a desklamp and use it.
OK.
> go to drawer 1
The drawer 1 is closed.
> open drawer 1
You open the drawer 1. The drawer 1 is open. In it, you see a watch 1.
> take watch 1 from drawer 1
You pick up the watch 1 from the drawer 1.
> think: Now a desklamp; the sidetable or the dresser are likely places.
OK.
> go to sidetable 1
On the sidetable 1, you see a desklamp 1.
> use desklamp 1
You turn on the desklamp 1.
""",
    "puttwo": """You are in the middle of a room. Looking quickly around you, you see a armchair 1, a coffeetable 1, \
a drawer 1, a sidetable 1, and a sofa 1.
Your task is to: put two remotecontrol in armchair.
> think: I need two remotecontrols, one at a time, each put in/on the armchair 1.
OK.
> go to coffeetable 1
On the coffeetable 1, you see a remotecontrol 2, and a remotecontrol 1.
> take remotecontrol 1 from coffeetable 1
You pick up the remotecontrol 1 from the coffeetable 1.
> go to armchair 1
On the armchair 1, you see nothing.
> put remotecontrol 1 in/on armchair 1
You put the remotecontrol 1 in/on the armchair 1.
> go to coffeetable 1
On the coffeetable 1, you see a remotecontrol 2.
> take remotecontrol 2 from coffeetable 1
You pick up the remotecontrol 2 from the coffeetable 1.
> go to armchair 1
On the armchair 1, you see a remotecontrol 1.
> put remotecontrol 2 in/on armchair 1
You put the remotecontrol 2 in/on the armchair 1.
""",
}


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    """The instruction, then (examples=1) one example episode of the target's task type."""
    if examples <= 0:
        return INSTRUCTION
    task_type = str(target.get("task_type", ""))
    example = EXAMPLES.get(task_type)
    if example is None:
        raise BadInputError(f"alfworld has no example for task type {task_type!r} (known: {', '.join(EXAMPLES)})")
    return f"{INSTRUCTION}\nHere is an example:\n\n{example}"


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    return f"{memory_block}\n\n{observation}" if memory_block else observation
