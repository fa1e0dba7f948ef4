"""BabyAI's text layer: what the agent sees of a minigrid state, and the high-level actions it may take.

It reproduces the behaviour of the BEHEMOTH reference (AgentBoard's BabyAI wrapper) observation for
observation, quirks included, because the released transcripts are what the benchmark was scored on:
- every visible object is described by its offset from the agent, nearest first, numbered per name;
- "The room has walls around you." is always said; a wall or box straight ahead is "faced";
- high-level actions expand into primitive moves found by breadth-first search over (cell, heading) within
  the agent's view square, where walls, boxes, balls, keys and lava block and doors (even locked) do not;
- an object whose route is blocked does not take a number in the action names, so the action numbers can
  differ from the numbers in the description;
- the "no route" message of a closed or locked door shows the whole door counter (a Python dict).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE = 0, 1, 2, 3, 4, 5

# minigrid's encoding (minigrid.core.constants): object, colour and door-state indices.
_OBJECT_NAMES = {4: "door", 5: "key", 6: "ball", 7: "box", 8: "goal", 9: "lava", 2: "wall"}
_COLOURS = {0: "red", 1: "green", 2: "blue", 3: "purple", 4: "yellow", 5: "grey"}
_DOOR_STATES = {0: "open", 1: "closed", 2: "locked"}
_HEADINGS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # east, south, west, north, as minigrid numbers them
_SOLID = ("wall", "box", "lava", "ball", "key")  # name fragments that block a route (doors never do)

Cell = tuple[int, int]
Pose = tuple[Cell, int]


@dataclass(frozen=True)
class Seen:
    name: str  # "red ball", "blue locked door", "wall"
    cell: Cell
    distance: int  # Manhattan distance from the agent


@dataclass
class View:
    """One observation: the visible things nearest first, what lies straight ahead, the search area."""

    position: Cell
    heading: int
    things: list[Seen]  # walls included: they block routes
    ahead: list[tuple[str, int]]  # ("wall" | "box", cells ahead), nearest first
    xs: range
    ys: range
    carrying: tuple[str, str] | None  # (colour, type)

    def offset(self, cell: Cell) -> tuple[int, int]:
        """(cells in front, cells to the right) of the agent."""
        dx, dy = cell[0] - self.position[0], cell[1] - self.position[1]
        fx, fy = _HEADINGS[self.heading]
        rx, ry = _HEADINGS[(self.heading + 1) % 4]
        return dx * fx + dy * fy, dx * rx + dy * ry


@dataclass
class ActionSpace:
    """High-level action -> primitive moves, in the order the reference lists them, and refusal texts."""

    moves: dict[str, list[int]] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)


def _area(start: int, border: int) -> range:
    # The reference's bounds: inclusive on one side only, so the square is one cell larger behind the agent
    # when facing east or south.
    return range(border, start + 1) if border < start else range(start, border)


def read_view(env: Any, image: Any, heading: int) -> View:
    """The agent's view of `env` (a minigrid env, unwrapped) given its encoded image observation."""
    size = int(env.agent_view_size)
    px, py = (int(v) for v in env.agent_pos)
    fx, fy = _HEADINGS[heading]
    rx, ry = _HEADINGS[(heading + 1) % 4]
    corner = (px + fx * (size - 1) - rx * (size // 2), py + fy * (size - 1) - ry * (size // 2))
    border = (corner[0] + size * (rx - fx), corner[1] + size * (ry - fy))
    things: list[Seen] = []
    ahead: list[tuple[str, int]] = []
    for row in range(size):
        for col in range(size):
            x, y = corner[0] - fx * row + rx * col, corner[1] - fy * row + ry * col
            distance = abs(px - x) + abs(py - y)
            if x < 0 or y < 0 or distance == 0:
                continue
            kind = _OBJECT_NAMES.get(int(image[col, row, 0]))
            if kind is None:
                continue
            colour = _COLOURS[int(image[col, row, 1])]
            name = f"{colour} {_DOOR_STATES[int(image[col, row, 2])]} door" if kind == "door" else f"{colour} {kind}"
            things.append(Seen(name, (x, y), distance))
            dx, dy = x - px, y - py
            if kind in ("box", "wall") and fx * dy - fy * dx == 0:
                ahead.append((kind, dx * fx + dy * fy))
    things.sort(key=lambda seen: seen.distance)
    ahead.sort(key=lambda item: item[1])
    carried = env.carrying
    return View(
        position=(px, py),
        heading=heading,
        things=things,
        ahead=ahead,
        xs=_area(corner[0], border[0]),
        ys=_area(corner[1], border[1]),
        carrying=None if carried is None else (carried.color, carried.type),
    )


def describe(view: View) -> str:
    """The observation text, byte for byte as the reference words it."""
    if view.things:
        text = "In front of you in this room, you can see several objects: "
        numbers: dict[str, int] = {}
        for seen in view.things:
            if "wall" in seen.name:
                continue
            front, right = view.offset(seen.cell)
            if right == 0:
                where = f"right in front of you {front} steps away. "
            elif right > 0:
                where = f"{front} steps in front of you and {right} steps to your right. "
            else:
                where = f"{front} steps in front of you and {-right} steps to your left. "
            numbers[seen.name] = numbers.get(seen.name, 0) + 1
            text += f"There is a {seen.name} {numbers[seen.name]} {where} "
    else:
        text = "You cannot see any objects within sight."
    text += "The room has walls around you. "
    if view.ahead:
        kind, distance = view.ahead[0]
        text += f"You are facing a {kind} {distance} steps away. "
    if view.carrying is None:
        return text + "You are not carrying anything."
    colour, kind = view.carrying
    return text + f"You are carrying a {colour} {kind}."


def _advance(pose: Pose, move: int) -> Pose:
    (x, y), heading = pose
    if move == LEFT:
        return (x, y), (heading - 1) % 4
    if move == RIGHT:
        return (x, y), (heading + 1) % 4
    dx, dy = _HEADINGS[heading]
    return (x + dx, y + dy), heading


def find_route(view: View, goal: Cell, arrive: bool) -> list[int] | None:
    """Primitive moves that end on `goal` (arrive) or facing it from the next cell; None if none exists.

    Breadth-first over (cell, heading), trying forward, left, right. Like the reference, a pose is marked
    seen only when it is expanded, and a later enqueue of a pending pose replaces its recorded parent.
    """
    blocked = {seen.cell for seen in view.things if any(part in seen.name for part in _SOLID)}
    start: Pose = (view.position, view.heading)
    parents: dict[Pose, tuple[Pose, int]] = {}
    expanded: set[Pose] = set()
    queue: deque[Pose] = deque([start])
    while queue:
        pose = queue.popleft()
        expanded.add(pose)
        (x, y), heading = pose
        dx, dy = _HEADINGS[heading]
        if (x, y) == goal if arrive else (goal[0] - x, goal[1] - y) == (dx, dy):
            route: list[int] = []
            while pose != start:
                pose, move = parents[pose]
                route.append(move)
            return route[::-1]
        for move in (FORWARD, LEFT, RIGHT):
            nxt = _advance(pose, move)
            cell = nxt[0]
            if cell[0] not in view.xs or cell[1] not in view.ys or nxt in expanded or cell in blocked:
                continue
            queue.append(nxt)
            parents[nxt] = (pose, move)
    return None


def _number(table: dict[str, list[int]], verb: str, name: str, counts: dict[str, int]) -> str:
    """The next free action name `<verb> <name> <n>`: numbering counts only objects that have a route."""
    if f"{verb} {name} 1" not in table:
        counts[name] = 1
    else:
        counts[name] += 1
    return f"{verb} {name} {counts[name]}"


def _unnumbered(table: dict[str, list[int]], verb: str, name: str, counts: dict[str, int]) -> str:
    return f"{verb} {name} 1" if f"{verb} {name} 1" not in table else f"{verb} {name} {counts[name] + 1}"


def action_space(view: View) -> ActionSpace:
    """The high-level actions available in `view`, with their primitive moves, as the reference builds them."""
    space = ActionSpace(moves={"turn left": [LEFT], "turn right": [RIGHT]})
    moves, refusals = space.moves, space.refusals
    if not view.ahead or view.ahead[0][1] > 1:
        moves["move forward"] = [FORWARD]
    else:
        refusals["move forward"] = "There is a barrier in front of you, you can't move forward."

    if view.carrying is None:
        counts: dict[str, int] = {}
        for seen in view.things:
            if any(part in seen.name for part in ("wall", "door", "goal")):
                continue
            route = find_route(view, seen.cell, arrive=False)
            if route is not None:
                moves[_number(moves, "pickup", seen.name, counts)] = [*route, PICKUP]
            else:
                key = _unnumbered(moves, "pickup", seen.name, counts)
                refusals[key] = f"You cannot {key}, as there is no path leading to it."
        refusals["drop"] = "You cannot drop the object, as you are not carrying anything."
    else:
        dx, dy = _HEADINGS[view.heading]
        front = (view.position[0] + dx, view.position[1] + dy)
        if any(seen.cell == front and any(part in seen.name for part in _SOLID) for seen in view.things):
            refusals["drop"] = "You cannot drop the object, as there is already an object in front of you."
        else:
            moves["drop"] = [DROP]

    _door_actions(view, space)

    for seen in view.things:
        if "goal" in seen.name:
            route = find_route(view, seen.cell, arrive=True)
            if route is not None:
                moves["go to goal"] = route
            else:
                refusals["go to goal"] = "You cannot go to the goal, as there is no path leading to it."

    counts = {}
    for seen in view.things:
        if "wall" in seen.name or "goal" in seen.name:
            continue
        route = find_route(view, seen.cell, arrive=False)
        if route is not None:
            moves[_number(moves, "go to", seen.name, counts)] = route
        else:
            key = _unnumbered(moves, "go to", seen.name, counts)
            refusals[key] = f"You cannot {key}, as there is no path leading to it."

    moves["check available actions"] = []
    return space


def _door_actions(view: View, space: ActionSpace) -> None:
    moves, refusals = space.moves, space.refusals
    doors: dict[str, int] = {}  # every door counts, reachable or not
    for seen in view.things:
        if "door" not in seen.name:
            continue
        doors[seen.name] = doors.get(seen.name, 0) + 1
        label = f"{seen.name} {doors[seen.name]}"
        if "open door" in seen.name:
            route = find_route(view, seen.cell, arrive=True)
            if route is not None:
                moves[f"go through {label}"] = route
            else:
                refusals[f"go through {label}"] = f"You cannot go through {label}, as there is no path leading to it."
            continue
        if "locked door" in seen.name:
            if view.carrying is None or view.carrying[1] != "key":
                refusals[f"toggle and go through {label}"] = (
                    f"You cannot toggle and go through {label}, as you are not carrying a key.")
                continue
            if view.carrying[0] != seen.name.split(" ")[0]:
                refusals[f"toggle and go through {label}"] = (
                    f"You cannot toggle and go through {label}, as the color of the key you are carrying "
                    "does not match the color of door.")
                continue
        route = find_route(view, seen.cell, arrive=False)
        if route is not None:
            moves[f"toggle and go through {label}"] = [*route, TOGGLE, FORWARD]
        else:
            refusals[f"toggle and go through {label}"] = (
                f"You cannot toggle and go through {seen.name} {doors}, as there is no path leading to it.")
        if route == []:
            moves["toggle"] = [TOGGLE]
        if "closed door" in seen.name:
            refusals[f"go through {label}"] = (
                f"You cannot go through {label}, as it is closed. You should toggle it first.")
