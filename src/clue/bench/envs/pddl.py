"""PDDL games (barman, blockworld, gripper, tyreworld) through pddlgym, with the reference's text actions.

Domain and problem files come from `<env_root>/pddl/` (`<game>.pddl` and `<game>/*.pddl`). A target names
`game_name` and `problem_index`, which counts the game's problem files in alphabetical order (as pddlgym
loads them: blockworld's index 1 is `problem10.pddl`).

Rules, as the reference applies them (see docs/environments.md):
- a reply containing "think" (lower case) is a thought: it uses a step and changes nothing;
- a reply containing "check" lists the valid actions; "look around" describes the whole state;
- otherwise the text is read as an action (`pddl_text.action_from_text`); a step that leaves the state
  unchanged is invalid;
- the reward is the highest fraction of goal facts satisfied after any valid step (0 before the first);
  success is reaching the goal, which ends the episode;
- barman and tyreworld describe a step by the facts that became true; their initial observation likewise
  lists only the facts not already true in the game's previous problem (index - 1): the reference reused
  one environment while it wrote the targets' first observations in order. `full_initial_state=True` lists
  the whole state instead.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import sys
import threading
import types
from collections.abc import Mapping
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
    turn_by_turn_transcript,
)
from clue.bench.envs.pddl_prompt import first_user_message, system_prompt
from clue.bench.envs.pddl_text import (
    DIFF_GAMES,
    GOAL_REACHED_SUFFIX,
    INVALID_ACTION,
    LOOK_AROUND_GAMES,
    THINK_REPLY,
    action_from_text,
    goal_text,
    literal_text,
    state_text,
)

GAMES = ("barman", "blockworld", "gripper", "tyreworld")
STEP_CAP = step_cap_of("pddl")  # the dataset entry's cap (clue.bench.data.entries.pddl)
# pddlgym grounds a new problem's actions through Fast Downward's instantiator, which swaps sys.stdout for
# the process while it runs: live environments (pool threads) ground one at a time.
_GROUNDING_LOCK = threading.RLock()
_IMPORT_LOCK = threading.Lock()  # pddlgym.core is in sys.modules while it is still being imported


def _pddlgym_core() -> types.ModuleType:
    """pddlgym's core module, imported without the package's __init__ (which registers gym environments
    and imports a matplotlib/scikit-image rendering stack that clue never uses)."""
    with _IMPORT_LOCK:
        return _import_pddlgym_core()


def _import_pddlgym_core() -> types.ModuleType:
    if "pddlgym.core" in sys.modules:
        return sys.modules["pddlgym.core"]
    found = importlib.util.find_spec("pddlgym")
    if found is None or not found.submodule_search_locations:
        raise EnvironmentUnavailable("pddl needs the pddlgym package: pip install --no-deps pddlgym==0.0.7")
    if "pddlgym" not in sys.modules:
        package = types.ModuleType("pddlgym")
        package.__path__ = list(found.submodule_search_locations)
        sys.modules["pddlgym"] = package
    with contextlib.redirect_stderr(io.StringIO()):  # gym's "unmaintained" notice on import
        return importlib.import_module("pddlgym.core")


def game_files(env_root: Path, game: str) -> tuple[Path, list[Path]]:
    """(domain file, problem files in the order problem_index counts them)."""
    base = Path(env_root) / "pddl"
    return base / f"{game}.pddl", sorted((base / game).glob("*.pddl"), key=lambda path: str(path))


def missing(env_root: Path) -> str | None:
    for package in ("pddlgym", "gym", "imageio"):
        if package not in sys.modules and importlib.util.find_spec(package) is None:
            return f"pddl needs the {package} package (pip install -e '.[agentic]' and requirements-nodeps.txt)"
    for game in GAMES:
        domain, problems = game_files(env_root, game)
        if not domain.is_file() or not problems:
            return f"pddl needs the {game} domain and problem files under {Path(env_root) / 'pddl'}"
    return None


class PddlEnvironment:
    """One live PDDL game; `reset` loads the target's problem (the game's domain is parsed once)."""

    def __init__(self, env_root: Path, full_initial_state: bool = False) -> None:
        problem = missing(env_root)
        if problem:
            raise EnvironmentUnavailable(problem)
        self.env_root = Path(env_root)
        self.full_initial_state = full_initial_state
        self._core = _pddlgym_core()
        self._games: dict[str, Any] = {}
        self.game = ""
        self._state: Any = None
        self._goal: frozenset[Any] = frozenset()
        self._reward = 0.0
        self._won = False
        self._steps = 0

    def _game(self, game: str) -> Any:
        if game not in GAMES:
            raise EnvironmentFailure(f"pddl has no game {game!r} (known: {', '.join(GAMES)})")
        if game not in self._games:
            domain, _ = game_files(self.env_root, game)
            self._games[game] = self._core.PDDLEnv(str(domain), str(domain.with_suffix("")),
                                                   operators_as_actions=True, dynamic_action_space=True)
        return self._games[game]

    def reset(self, target: Mapping[str, Any]) -> str:
        with _GROUNDING_LOCK:
            return self._reset(target)

    def _reset(self, target: Mapping[str, Any]) -> str:
        self.game = str(target.get("game_name", ""))
        env = self._game(self.game)
        index = int(target.get("problem_index", -1))
        if not 0 <= index < len(env.problems):
            raise EnvironmentFailure(f"pddl {self.game} has {len(env.problems)} problems; no problem_index {index}")
        shown_out: frozenset[Any] = frozenset()
        if self.game in DIFF_GAMES and index > 0 and not self.full_initial_state:
            env.fix_problem_index(index - 1)
            shown_out = frozenset(env.reset()[0].literals)
        env.fix_problem_index(index)
        self._state, _ = env.reset()
        self._goal = frozenset(self._state.goal.literals)
        self._reward, self._won, self._steps = 0.0, False, 0
        return (f"Here is your initial observation: {state_text(self._state.literals - shown_out)}\n"
                f"**Here is your task: {goal_text(self._goal)}")

    def _applicable(self) -> list[Any]:
        with _GROUNDING_LOCK:
            return sorted(self._games[self.game].action_space.all_ground_literals(self._state), key=str)

    def valid_actions(self) -> list[str] | None:
        extra = ["check valid actions", "look around"] if self.game in LOOK_AROUND_GAMES else ["check valid actions"]
        return [literal_text(literal) for literal in self._applicable()] + extra

    def _fraction(self, literals: frozenset[Any]) -> float:
        return sum(1 for goal in self._goal if goal in literals) / len(self._goal) if self._goal else 1.0

    def step(self, action: str) -> StepResult:
        self._steps += 1
        lowered = action.lower()
        if "think" in action:  # case-sensitive, as the reference tests it
            return self._result(THINK_REPLY, valid=True)
        if "check" in lowered:
            return self._result("Valid actions are: " + ", ".join(self.valid_actions() or []), valid=True)
        if "look around" in lowered:
            return self._result(" ".join(sorted(literal_text(literal).capitalize()
                                                for literal in self._state.literals)), valid=True)
        parsed = action_from_text(action, self._applicable(), sorted(self._state.objects, key=str))
        if parsed is None:
            return self._result(INVALID_ACTION, valid=False)
        predicate, objects = parsed
        env = self._games[self.game]
        new_state, _, done, _, _ = env.step(predicate(*objects))
        if new_state == self._state:
            return self._result(INVALID_ACTION, valid=False)
        previous, self._state = self._state, new_state
        self._reward = max(self._reward, self._fraction(new_state.literals))
        self._won = bool(done)
        shown = new_state.literals - previous.literals if self.game in DIFF_GAMES else new_state.literals
        observation = state_text(shown) + (GOAL_REACHED_SUFFIX if self._goal <= new_state.literals else "")
        return self._result(observation, valid=True)

    def _result(self, observation: str, valid: bool) -> StepResult:
        return StepResult(observation=observation, reward=self._reward, done=self._won,
                          info={"valid": valid, "won": self._won})

    def outcome(self) -> Outcome:
        return Outcome(success=self._won, reward=self._reward, steps=self._steps)

    def close(self) -> None:
        self._games.clear()


def make(env_root: Path) -> PddlEnvironment:
    return PddlEnvironment(env_root)


_ACTION_PREFIX = re.compile(r"^(?:ACTION|Action):")


def parse_action(reply: str) -> str:
    """The reference's reading of a reply: its first line, without angle brackets, "OK" tokens or an
    "Action:" label."""
    line = reply.strip().replace("<", "").split("\n")[0]
    line = line.replace(">", "").replace("OK.", "").replace("OK", "").strip()
    if _ACTION_PREFIX.match(line):
        return line[7:].strip()
    return line


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A released PDDL 1-shot run, turn by turn."""
    return turn_by_turn_transcript(record, parse_action)


SPEC = EnvSpec(
    dataset="pddl",
    step_cap=STEP_CAP,
    memory_placement="system",
    make=make,
    missing=missing,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=parse_action,
    parse_transcript=parse_transcript,
)
