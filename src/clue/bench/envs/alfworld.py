"""ALFWorld's text games (alfworld + textworld, no torch), with the reference's verbs and observations.

Game files: `<env_root>/alfworld/json_2.1.1/valid_unseen/**/game.tw-pddl` (a target's `env_kwargs.gamefile`
names one as `data/alfworld/json_2.1.1/...`; the part after `data/alfworld/` is looked up under
`<env_root>/alfworld/`, or an absolute path is used as it is).

These game files are an older release than the reference's: they say "move X to Y" where the reference's
say "put X in/on Y", and their "go to" feedback starts with "You arrive at <receptacle>. ". We adjust the
game's grammar as it loads (`reference_grammar`), so observations read as in the released transcripts.
Rules, as the reference applies them (see docs/environments.md):
- a reply containing "think:" is a thought: it uses a step, the game sees it as an unknown command, and the
  agent is answered "OK.";
- a command the game does not know gets "Nothing happens.";
- the reward is 1.0 only once the game is won, which ends the episode; success is winning.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clue.bench.data.datasets import step_cap_of
from clue.bench.envs.alfworld_prompt import first_user_message, system_prompt
from clue.bench.envs.base import (
    EnvironmentFailure,
    EnvironmentUnavailable,
    EnvSpec,
    Outcome,
    StepResult,
    Transcript,
    turn_by_turn_transcript,
)

STEP_CAP = step_cap_of("alfworld")  # the dataset entry's cap (clue.bench.data.entries.alfworld)
GAMES_DIR = Path("alfworld") / "json_2.1.1" / "valid_unseen"
THINK_REPLY = "OK."
_WELCOME = "-= Welcome to TextWorld, ALFRED! =-"
_PACKAGES = ("alfworld", "textworld", "fast_downward", "jericho")

# (what the older game files say, what the reference's games say). The help text is adjusted to match.
GRAMMAR_EDITS: tuple[tuple[str, str], ...] = (
    ('template :: "move {o} to {r}";', 'template :: "put {o} in/on {r}";'),
    ('"rhs": "You move the {o.name} to the {r.name}."', '"rhs": "You put the {o.name} in/on the {r.name}."'),
    ('"rhs": "You arrive at {r.name}. #examineReceptacle.feedback#"', '"rhs": "#examineReceptacle.feedback#"'),
    ("  move (object) to (receptacle):  place an object in or on a receptacle",
     "  put (object) in/on (receptacle):  put an object in or on a receptacle"),
)


def reference_grammar(grammar: str) -> str:
    """The game's grammar with the reference's verbs and feedback (see GRAMMAR_EDITS)."""
    for old, new in GRAMMAR_EDITS:
        grammar = grammar.replace(old, new)
    return grammar


def game_file(env_root: Path, target: Mapping[str, Any]) -> Path:
    named = str((target.get("env_kwargs") or {}).get("gamefile", ""))
    if not named:
        raise EnvironmentFailure(f"alfworld target {target.get('id')!r} names no env_kwargs.gamefile")
    path = Path(named)
    if path.is_absolute():
        return path
    marker = "data/alfworld/"
    relative = named.split(marker, 1)[1] if marker in named else named
    return Path(env_root) / "alfworld" / relative


def missing(env_root: Path) -> str | None:
    for package in _PACKAGES:
        if importlib.util.find_spec(package) is None:
            return (f"alfworld needs the {package} package "
                    "(pip install -e '.[agentic]' and pip install --no-deps -r requirements-nodeps.txt)")
    games = Path(env_root) / GAMES_DIR
    if not games.is_dir() or next(games.glob("*/*/game.tw-pddl"), None) is None:
        return f"alfworld needs the ALFWorld game files (json_2.1.1/valid_unseen/**/game.tw-pddl) under {games}"
    return None


def _memoized_parse(parse: Callable[..., Any]) -> Callable[..., Any]:
    """`parse` remembering its results; each call gets its own deep copy (derivations mutate them)."""
    cache: dict[Any, Any] = {}

    def parse_once(*args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = parse(*args, **kwargs)
        return copy.deepcopy(cache[key])

    parse_once.memoized = True  # type: ignore[attr-defined]
    return parse_once


def _memoized_translation(translate: Callable[..., Any]) -> Callable[..., Any]:
    """fast_downward's PDDL-to-SAS translation remembering the last few games: textworld translates the same
    game twice at load and twice more at reset. Its results are only read, so they are shared."""
    cache: dict[Any, Any] = {}

    def translate_once(domain: str, problem: str, verbose: bool = False, optimize: bool = False) -> Any:
        key = (domain, problem, optimize)
        if key not in cache:
            if len(cache) >= 8:
                cache.clear()
            cache[key] = translate(domain, problem, verbose=verbose, optimize=optimize)
        return cache[key]

    translate_once.memoized = True  # type: ignore[attr-defined]
    return translate_once


def _text_engine() -> tuple[Any, Any, Any]:
    """(textworld's PDDL game, its EnvInfos, alfworld's name demangler), imported on first use.

    textworld parses the same grammar snippets and fact queries with TatSu again at every step (most of a
    step's time), and translates each game four times; we memoize those, which changes no text and makes
    steps several times faster and resets about twice as fast.
    """
    import fast_downward
    import textworld
    import textworld.envs.pddl.textgen as textgen
    import textworld.logic as logic
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld.envs.pddl import PddlEnv

    for module in (textgen, logic):
        if not getattr(module._parse_and_convert, "memoized", False):
            module._parse_and_convert = _memoized_parse(module._parse_and_convert)
    if not getattr(fast_downward.pddl2sas, "memoized", False):
        fast_downward.pddl2sas = _memoized_translation(fast_downward.pddl2sas)
    return PddlEnv, textworld.EnvInfos, AlfredDemangler


# fast_downward's translation sets process-wide options (and sys.argv): one game loads at a time.
_LOAD_LOCK = threading.Lock()


class AlfworldEnvironment:
    """One live ALFWorld game; `reset` loads the target's game file."""

    def __init__(self, env_root: Path) -> None:
        problem = missing(env_root)
        if problem:
            raise EnvironmentUnavailable(problem)
        self.env_root = Path(env_root)
        pddl_env, infos, demangler = _text_engine()
        # One game engine per environment, reloaded for each target (each engine holds its own copy of
        # fast_downward's library, so live environments do not share planner state).
        self._game: Any = demangler(shuffle=False)(pddl_env(infos(won=True, admissible_commands=True)))
        self._loaded = False
        self._admissible: list[str] = []
        self._won = False
        self._steps = 0

    def reset(self, target: Mapping[str, Any]) -> str:
        path = game_file(self.env_root, target)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EnvironmentFailure(f"alfworld game file not found: {path}") from None
        data["grammar"] = reference_grammar(data["grammar"])
        # The names the agent sees ("cabinet 3") come from alfworld's demangler, as in the reference.
        with _LOAD_LOCK:
            self._game.load(data)
            state = self._game.reset()
        self._loaded = True
        self._admissible = list(state["admissible_commands"])
        self._won, self._steps = False, 0
        return str(state.feedback).replace(_WELCOME, "", 1).strip()

    def valid_actions(self) -> list[str] | None:
        return list(self._admissible)

    def step(self, action: str) -> StepResult:
        if not self._loaded:
            raise EnvironmentFailure("alfworld: step before reset")
        self._steps += 1
        state, _, _ = self._game.step(action)
        self._admissible = list(state["admissible_commands"])
        self._won = self._won or bool(state["won"])
        observation = THINK_REPLY if "think:" in action else str(state.feedback)
        reward = 1.0 if self._won else 0.0
        return StepResult(observation=observation, reward=reward, done=self._won, info={"won": self._won})

    def outcome(self) -> Outcome:
        return Outcome(success=self._won, reward=1.0 if self._won else 0.0, steps=self._steps)

    def close(self) -> None:
        self._loaded = False


def make(env_root: Path) -> AlfworldEnvironment:
    return AlfworldEnvironment(env_root)


_NUMBERED = re.compile(r"^\d+\.\s+")


def parse_action(reply: str) -> str:
    """The reference's reading of a reply: its first line without angle brackets, "OK" tokens, a leading
    "1. " and a final period ("> go to desk 1." -> "go to desk 1")."""
    line = reply.strip().replace("<", "").split("\n")[0]
    line = line.replace(">", "").replace("OK.", "").replace("OK", "").strip()
    line = _NUMBERED.sub("", line)
    return line[:-1] if line.endswith(".") else line


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A released ALFWorld 1-shot run, turn by turn."""
    return turn_by_turn_transcript(record, parse_action)


SPEC = EnvSpec(
    dataset="alfworld",
    step_cap=STEP_CAP,
    memory_placement="system",
    make=make,
    missing=missing,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=parse_action,
    parse_transcript=parse_transcript,
)
