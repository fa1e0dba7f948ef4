"""The text layer of the PDDL games as BEHEMOTH's reference shows it: fact and action sentences, state
descriptions, and reading an action out of free text.

The sentence templates are observable behaviour (they are what the released transcripts show), so they are
reproduced exactly, quirks included: a template with fewer slots than the literal has arguments drops the
rest ("You are holding right." for holding(right, shot2)), barman's `used` reads as a pour, and
`pour-shaker-to-shot` names the beverage as the shot glass. A predicate without a template (gripper's
`drop`, barman's `handempty`) reads as its name followed by its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

TEMPLATES: dict[str, str] = {
    # blockworld
    "on": "{} is on {}.",
    "clear": "The {} is clear.",
    "arm-empty": "Your arm is empty.",
    "holding": "You are holding {}. ",
    "on-table": "{} is on the table.",
    "putdown": "Putdown {}.",
    "stack": "Stack {} on {}.",
    "pickup": "Pickup {}.",
    "unstack": "Unstack {} from {}.",
    # tyreworld
    "vehicle-at": "The vehicle is at {}.",
    "changetire": "Change tire at {}",
    "spare-in": "The spare tire is in {}.",
    "road": "There is a road from {} to {}.",
    "movecar": "Move the car to {}.",
    "isopen": "{} is open.",
    "closed": "{} is closed.",
    "have": "You have {}.",
    "in": "{} is in {}.",
    "loose": "The nut {} on the hub {} is loose.",
    "tight": "The nut {} on the hub {} is tight.",
    "unlocked": "{} is unlocked.",
    "on-ground": "Hub {} is on the ground.",
    "not-on-ground": "Hub {} is not on the ground.",
    "inflated": "Wheel {} is inflated.",
    "not-inflated": "Wheel {} is not inflated.",
    "fastened": "Hub {} is fastened.",
    "unfastened": "Hub {} is unfastened.",
    "free": "{} is free. ",
    "intact": "Wheel {} is intact.",
    "open": "Open {}.",
    "close": "Close {}.",
    "fetch": "Fetch {} from {}.",
    "put-away": "Put-away {} in {}.",
    "loosen": "Loosen the nut {} on the hub {}.",
    "tighten": "Tighten the nut {} on the hub {}.",
    "jack-up": "jack-up the hub {}.",
    "jack-down": "Jack-down the hub {}.",
    "undo": "Undo the fastening of the nut {} on the hub {}.",
    "do-up": "Do-up the nut {} on the hub {}.",
    "remove-wheel": "Remove-wheel {} from the hub {}.",
    "put-on-wheel": "put-on-wheel {} on the hub {}.",
    "inflate": "Inflate the wheel {}.",
    # gripper (its `drop` has no template)
    "move": "Move from {} to {}. ",
    "smaller": "{} is smaller than {}.",
    "ball": "{} is a ball. ",
    "gripper": "{} is a gripper. ",
    "at-robby": "Robby is at {}. ",
    "at": "{} is at {}. ",
    "carry": "{} is carrying {}. ",
    "pick": "Pick up {} at {} with arm {}. ",
    # barman (its `handempty` has no template)
    "ontable": "{} is on the table. ",
    "empty": "{} is empty. ",
    "contains": "{} contains {}. ",
    "clean": "{} is clean. ",
    "used": "Pour {} from a shot glass to a used shaker {}",
    "dispenses": "{} dispenses {}. ",
    "shaker-empty-level": "{} is at empty level {}. ",
    "shaker-level": "{} is at level {}. ",
    "next": "level {} is next to level {}. ",
    "unshaked": "{} is unshaked. ",
    "shaked": "{} is shaked. ",
    "cocktail-part1": "{} part1 ingredient is {}. ",
    "cocktail-part2": "{} part2 ingredient is {}. ",
    "grasp": "{} grasp {}. ",
    "leave": "{} leave {}. ",
    "fill-shot": "fill-shot glass {} with {} with {} and {} holding {}. ",
    "refill-shot": "refill-shot {} with {} with {} and {} holding {}. ",
    "empty-shot": "use hand {} to empty-shot glass {} with beverage {}. ",
    "clean-shot": "clean-shot glass {} with {} with hand {} holding shot glass and {}. ",
    "pour-shot-to-clean-shaker": ("pour-shot-to-clean-shaker from a shot glass {} with {} to a clean shaker {}"
                                  " with hand {} from level {} to level {}"),
    "pour-shot-to-used-shaker": ("pour-shot-to-used-shaker from a shot glass {} with {} to a used shaker {}"
                                 " with hand {} from level {} to level {}"),
    "empty-shaker": "use hand {} to empty-shaker {} with ingredient {} from level {} to level {}.",
    "clean-shaker": "use hand {} and hand {} to clean-shaker {}",
    "shake": "shake a cocktail {} with ingredient {} and ingredient {} in a shaker {} with hand {} and hand {}",
    "pour-shaker-to-shot": ("pour-shaker-to-shot to a shot glass {} the ingredient {} with hand {} from shaker {}"
                            " from level {} to level {}"),
}

# Games whose step observations list only the facts that became true (the others list the whole state).
DIFF_GAMES = frozenset({"barman", "tyreworld"})
# Games whose valid-action list also offers "look around" (the full state, as the reference allows there).
LOOK_AROUND_GAMES = DIFF_GAMES

INVALID_ACTION = ("The action is not valid and therefore takes no effect. "
                  "You should use `check valid actions.` command to get some clues!")
THINK_REPLY = "Ok. But you should not think too much!"
GOAL_REACHED_SUFFIX = " The goal is satisfied."

# Words as NLTK's word tokenizer keeps them for these games: letters, digits and inner hyphens stay
# together ("pour-shot-to-clean-shaker", "the-hub1"); punctuation splits.
_TOKEN = re.compile(r"[a-z0-9_]+(?:-[a-z0-9_]+)*")


def literal_text(literal: Any) -> str:
    """A pddlgym literal (fact or action) as the reference's sentence."""
    name = str(literal.predicate.name)
    names = [str(variable.name) for variable in literal.variables]
    template = TEMPLATES.get(name)
    if template is None:
        return name + " " + " ".join(names)
    return template.format(*names)


def state_text(literals: Iterable[Any]) -> str:
    """Facts as capitalized sentences, sorted, joined by one space."""
    return " ".join(sorted(literal_text(literal).capitalize() for literal in literals))


def goal_text(goal_literals: Iterable[Any]) -> str:
    return "The goal is to satisfy the following conditions: " + ", ".join(
        sorted(literal_text(literal) for literal in goal_literals))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def action_from_text(text: str, applicable: Sequence[Any], objects: Sequence[Any]) -> tuple[Any, list[Any]] | None:
    """(action predicate, its objects) named by `text`, or None when the text names no applicable action.

    The verb is the first word naming an action that is applicable now; the objects are the words naming
    objects, in text order, cut to the action's arity (too few: None). Whether the objects fit is left to
    the game: an action whose preconditions fail changes nothing, and that makes it invalid.
    """
    words = tokens(text)
    predicates = {literal.predicate.name.lower(): literal.predicate for literal in applicable}
    verb = next((word for word in words if word in predicates), None)
    if verb is None:
        return None
    predicate = predicates[verb]
    by_name = {str(obj.name): obj for obj in objects}
    named = [by_name[word] for word in words if word in by_name]
    if len(named) < predicate.arity:
        return None
    return predicate, named[: predicate.arity]
