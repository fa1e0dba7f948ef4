"""PDDL environment: replay of released transcripts (a subset), independent plans, the text rules."""

from __future__ import annotations

import json
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clue.bench.envs import pddl_prompt
from clue.bench.envs.pddl import GAMES, SPEC, PddlEnvironment, game_files, parse_action
from clue.bench.envs.pddl_text import INVALID_ACTION, THINK_REPLY
from clue.bench.envs.replay import MODEL_DIR, released_runs, replay

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT.parent / "shared" / "behemoth"
ENV_ROOT = ROOT.parent / "shared" / "agentic"
OUTPUTS = DATA / "data_collection" / "train" / "pddl" / MODEL_DIR / "1-shot" / "target_output.jsonl"

# Every game, failures and successes, barman's and tyreworld's diff observations, a "look around".
SUBSET = {1, 12, 20, 43, 57}


def _pieces(text: str) -> list[str]:
    """The sentences and list items of an observation, in sorted order."""
    words = " ".join(text.split()).removeprefix("Valid actions are: ")
    return sorted(piece for piece in re.split(r"(?<=\.) +|, ", words) if piece)


def test_missing_names_the_game_files(tmp_path: Path) -> None:
    assert SPEC.missing(ENV_ROOT) is None
    message = SPEC.missing(tmp_path)
    assert message is not None and "barman" in message and str(tmp_path) in message


def test_problem_index_counts_files_alphabetically() -> None:
    _, problems = game_files(ENV_ROOT, "blockworld")
    assert [p.name for p in problems[:3]] == ["problem1.pddl", "problem10.pddl", "problem2.pddl"]


def test_replayed_subset_matches_the_released_transcripts() -> None:
    runs = [(t, o) for t, o in released_runs(DATA, "pddl") if o["id"] in SUBSET]
    assert len(runs) == len(SUBSET)
    for target, output in runs:
        transcript = SPEC.parse_transcript(output)
        result = replay(SPEC, ENV_ROOT, target, transcript)
        assert result.outcome_identical, (target["id"], result.ours, result.theirs)
        assert result.initial_identical, target["id"]
        # The only differences allowed: valid-action listings and "look around" descriptions, which
        # follow Python's (salted) set order in the reference; their items must agree.
        env = SPEC.make(ENV_ROOT)
        env.reset(target)
        for index, step in enumerate(transcript.steps[: SPEC.step_cap], start=1):
            ours = env.step(step.action).observation
            if index in result.mismatches:
                assert step.action.lower().startswith(("check", "look around")), (target["id"], index)
                assert _pieces(ours) == _pieces(step.observation), (target["id"], index)


def test_parse_action_gives_the_reference_actions() -> None:
    for line in OUTPUTS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        replies = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
        assert [parse_action(r) for r in replies] == [s["action"] for s in record["trajectory"]]


def _pyperplan(game: str, index: int) -> list[str]:
    from pyperplan.grounding import ground
    from pyperplan.heuristics.relaxation import hFFHeuristic
    from pyperplan.pddl.parser import Parser
    from pyperplan.search import greedy_best_first_search

    domain, problems = game_files(ENV_ROOT, game)
    parser = Parser(str(domain), str(problems[index]))
    task = ground(parser.parse_problem(parser.parse_domain()))
    plan = greedy_best_first_search(task, hFFHeuristic(task))
    assert plan is not None
    return [op.name.strip("()") for op in plan]


@pytest.mark.parametrize(("game", "index"), [("gripper", 0), ("blockworld", 1), ("tyreworld", 0)])
def test_an_independent_plan_reaches_the_goal(game: str, index: int) -> None:
    plan = _pyperplan(game, index)  # e.g. "pick ball1 rooma left": verb then objects, as our text rules read it
    env = SPEC.make(ENV_ROOT)
    env.reset({"game_name": game, "problem_index": index})
    for number, action in enumerate(plan, start=1):
        result = env.step(action)
        assert result.info["valid"], (number, action, result.observation)
        assert result.done == (number == len(plan))
    assert result.observation.endswith("The goal is satisfied.")
    outcome = env.outcome()
    assert outcome.success and outcome.reward == 1.0 and outcome.steps == len(plan)


# Found by pyperplan (greedy best-first, hFF) for barman p01.pddl; stored because the search takes a minute.
BARMAN_P01_PLAN = Path(__file__).with_name("barman_p01_plan.txt")


def test_barman_plan_with_the_unspaced_parameter_list_reaches_the_goal() -> None:
    plan = BARMAN_P01_PLAN.read_text(encoding="utf-8").split("\n")
    plan = [line.strip("()") for line in plan if line.strip()]
    assert any(action.startswith("pour-shaker-to-shot") for action in plan)  # `?l - level?l1 - level`
    env = SPEC.make(ENV_ROOT)
    env.reset({"game_name": "barman", "problem_index": 0})
    for action in plan:
        result = env.step(action)
        assert result.info["valid"], (action, result.observation)
    assert env.outcome().success and env.outcome().reward == 1.0


def test_rules_for_thoughts_invalid_steps_and_partial_reward() -> None:
    env = SPEC.make(ENV_ROOT)
    env.reset({"game_name": "gripper", "problem_index": 0})
    assert env.step("think: plan first").observation == THINK_REPLY
    # a verb that is not applicable now, then an applicable verb with objects that do not fit
    assert env.step("drop ball1 roomb left").observation == INVALID_ACTION
    assert env.step("move roomb rooma").observation == INVALID_ACTION
    listing = env.step("check valid actions.").observation
    assert "Pick up ball1 at rooma with arm left." in listing and listing.endswith("check valid actions")
    assert env.outcome().reward == 0.0
    env.step("pick ball1 rooma left")
    env.step("move rooma roomb")
    dropped = env.step("Drop ball1 in roomb with the left gripper")  # objects in text order, cut to arity
    assert dropped.info["valid"] and "Ball1 is at roomb." in dropped.observation
    assert env.outcome().reward == pytest.approx(0.25)  # one of prob01's four goal facts
    assert not env.outcome().success and env.outcome().steps == 7


def test_prompt_examples_replay_in_our_environment(tmp_path: Path) -> None:
    examples = Path(pddl_prompt.__file__).with_name("examples") / "pddl"
    for game in GAMES:
        (tmp_path / "pddl" / game).mkdir(parents=True)
        shutil.copy(ENV_ROOT / "pddl" / f"{game}.pddl", tmp_path / "pddl")
        shutil.copy(examples / f"{game}.pddl", tmp_path / "pddl" / game / "example.pddl")
    env = PddlEnvironment(tmp_path, full_initial_state=True)
    for game in GAMES:
        episode = pddl_prompt.example_episode(game)
        first = env.reset({"game_name": game, "problem_index": 0})
        assert first == (f"Here is your initial observation: {episode['initial_observation']}\n"
                         f"**Here is your task: {episode['goal']}")
        for action, observation in episode["steps"]:
            assert env.step(action).observation == observation, (game, action)
        assert env.outcome().success
        prompt = pddl_prompt.system_prompt({"game_name": game})
        assert pddl_prompt.example_text(game) in prompt and "think:" in prompt


def test_environments_in_pool_threads_agree_with_one_at_a_time() -> None:
    targets = [{"game_name": game, "problem_index": index} for game in GAMES for index in (3,)]
    plan = ["check valid actions", "look around"]

    def play(target: dict[str, object]) -> list[str]:
        env = SPEC.make(ENV_ROOT)
        return [env.reset(target), *(env.step(action).observation for action in plan)]

    alone = [play(target) for target in targets]
    stdout = sys.stdout
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(play, targets))
    assert together == alone and sys.stdout is stdout
