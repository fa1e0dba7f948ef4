"""BabyAI: the released transcripts replay identically, and independent plans reach the rules' outcome."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from support.released_runs import count_actions_read_as_released

from clue.bench.envs.babyai import SPEC, BabyAIEnvironment, _make_level, parse_action
from clue.bench.envs.babyai_prompt import example_episode
from clue.bench.envs.base import EnvironmentUnavailable
from clue.bench.envs.replay import released_runs, replay

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")
ENV_ROOT = REPO_ROOT / "../shared/agentic"

# One target from each kind of level and outcome: successes, partial rewards, minigrid "done" with a low
# reward (28, 31, 60: "The task is completed." shown, episode goes on), doors, pickups, a shared mission.
REPLAYED = (0, 6, 12, 28, 31, 56, 60, 71, 93, 107)


@pytest.fixture(scope="module")
def runs() -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    return {int(target["id"]): (target, output) for target, output in released_runs(DATA_ROOT, "babyai")}


@pytest.mark.parametrize("target_id", REPLAYED)
def test_released_transcript_replays_identically(runs: dict[int, tuple[dict[str, Any], dict[str, Any]]],
                                                 target_id: int) -> None:
    target, output = runs[target_id]
    transcript = SPEC.parse_transcript(output)
    result = replay(SPEC, ENV_ROOT, target, transcript)
    assert result.initial_identical, "the runtime first observation is what the agent saw"
    assert result.mismatches == [], result.first_mismatch
    assert result.steps == len(transcript.steps) == output["num_steps"]
    assert result.outcome_identical, (result.ours, result.theirs)


def test_parse_action_reads_every_reply_as_the_reference_did(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    assert count_actions_read_as_released((output for _, output in runs.values()), parse_action) == 1842


_PRIMITIVE_TEXT = {0: "turn left", 1: "turn right", 2: "move forward", 5: "toggle"}


def bot_plan(game_name: str, seed: int, cap: int = 20) -> list[str]:
    """minigrid's own BabyAI bot, run on a separate copy of the level, its moves written as text actions."""
    from minigrid.utils.baby_ai_bot import BabyAIBot

    level = _make_level(game_name)
    with contextlib.redirect_stdout(io.StringIO()):
        level.reset(seed=seed)
    bot = BabyAIBot(level.unwrapped)
    actions: list[str] = []
    for _ in range(cap):
        move = int(bot.replan())
        if move == 6:  # "done"
            break
        if move == 3:
            thing = level.unwrapped.grid.get(*level.unwrapped.front_pos)
            actions.append(f"pickup {thing.color} {thing.type} 1")
        else:
            actions.append(_PRIMITIVE_TEXT[move])
        if level.step(move)[2]:
            break
    level.close()
    return actions


@pytest.mark.parametrize(("target_id", "sighting"), [(0, "There is a red ball"), (3, None),
                                                      (65, "There is a yellow ball"), (68, "There is a red ball")])
def test_the_minigrid_bot_plan_succeeds_by_the_reward_rules(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]], target_id: int, sighting: str | None) -> None:
    target, _ = runs[target_id]
    plan = bot_plan(target["game_name"], target["seed"])
    assert 0 < len(plan) <= SPEC.step_cap
    env = BabyAIEnvironment()
    env.reset(target)
    results = [env.step(action) for action in plan]
    assert [result.done for result in results] == [False] * (len(plan) - 1) + [True]
    assert results[-1].observation.endswith("\n The task is completed.")
    assert env.outcome().success and env.outcome().reward == 1.0 and env.outcome().steps == len(plan)
    if sighting is not None:  # half the reward the first time the object is seen, not before
        first_seen = next(index for index, result in enumerate(results) if sighting in result.observation)
        assert [result.reward for result in results[:first_seen]] == [0.0] * first_seen
        assert results[first_seen].reward == 0.5


def test_pick_up_is_not_recognized_but_pickup_is(runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    target, _ = runs[68]
    env = BabyAIEnvironment()
    env.reset(target)
    for action in ["turn left", "move forward", "move forward", "move forward", "move forward", "turn left",
                   "move forward"]:
        env.step(action)
    refused = env.step("pick up red ball 1")
    assert refused.observation == "The action is not recognized. Please check valid actions."
    assert refused.info["action_is_valid"] is False
    listing = env.step("check valid actions").observation
    assert "pickup red ball 1" in listing and "pick up" not in listing
    assert listing.endswith("check available actions")
    taken = env.step("Pickup Red Ball 1 ")
    assert "You are carrying a red ball." in taken.observation and taken.done and env.outcome().success


def test_one_reward_fragment_per_turn_and_shared_seed_missions(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    target = dict(runs[0][0], obs_to_reward=["There is a red ball **", "There is a grey box **"])
    env = BabyAIEnvironment()
    env.reset(target)
    env.step("turn right")
    env.step("move forward")
    env.step("turn left")
    env.step("move forward")
    both = env.step("turn left")
    assert "There is a red ball" in both.observation and "There is a grey box" in both.observation
    assert both.reward == 0.5, "both patterns match, one is credited"
    assert env.step("jump").reward == 0.5, "a refused action's message is never matched"
    last = env.step("turn left")
    assert "There is a grey box" in last.observation
    assert last.reward == 1.0 and last.done and env.outcome().success

    # Targets 12..15 share game and seed: one runtime level and mission, each with its own reward patterns.
    firsts = {BabyAIEnvironment().reset(runs[index][0]) for index in (12, 13, 14, 15)}
    assert len(firsts) == 1
    message = SPEC.first_user_message(runs[13][0], firsts.pop(), "")
    assert "go to the green box" in message and runs[13][0]["goal"] == "go to the yellow ball"


def test_the_step_cap_ends_the_episode(runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    env = BabyAIEnvironment(step_cap=3)
    env.reset(runs[1][0])
    results = [env.step("turn left") for _ in range(3)]
    assert [result.done for result in results] == [False, False, True]
    assert results[-1].info["truncated"] is True
    assert env.outcome().steps == 3 and not env.outcome().success


def test_prompt_example_is_what_our_environment_shows_and_memory_sits_before_the_goal(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    example = example_episode()
    env = BabyAIEnvironment()
    assert env.reset(example["target"]) == example["initial_observation"]
    for action, observation in example["steps"]:
        assert env.step(action).observation == observation
    assert env.outcome().success

    target, _ = runs[0]
    first = BabyAIEnvironment().reset(target)
    block = "## Retrieved memory\n<memory>\n1. Turn until the ball is in sight.\n</memory>"
    message = SPEC.first_user_message(target, first, block)
    goal = message.index("Your goal: go to the red ball")
    assert message.index("Action: go to red ball 1") < message.index(block) < goal
    assert message.endswith(f"Observation: {first}")
    assert SPEC.first_user_message(target, first, "").count("<memory>") == 0
    assert SPEC.memory_placement == "user" and SPEC.step_cap == 20 and SPEC.system_prompt(target)


def test_missing_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert SPEC.missing(ENV_ROOT) is None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "minigrid" else real(name))
    assert SPEC.missing(ENV_ROOT) == "babyai needs the Python package minigrid (pip install 'clue[agentic]')"
    with pytest.raises(EnvironmentUnavailable, match="minigrid"):
        SPEC.make(ENV_ROOT)
