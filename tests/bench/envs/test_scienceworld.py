"""ScienceWorld: released transcripts replay identically; the simulator's own gold path succeeds by the
subgoal rules; a fresh simulator per episode. Each episode starts a JVM (seconds), so few episodes run here;
`perf/agentic_replay.py --datasets scienceworld` replays all 90."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from support.released_runs import count_actions_read_as_released

from clue.bench.envs import scienceworld
from clue.bench.envs.base import EnvironmentUnavailable
from clue.bench.envs.replay import released_runs, replay
from clue.bench.envs.scienceworld import SPEC, ScienceWorldEnvironment, parse_action
from clue.bench.envs.scienceworld_supply import SimulatorSupply, start_simulator

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")
ENV_ROOT = REPO_ROOT / "../shared/agentic"


@pytest.fixture(scope="module")
def runs() -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    return {int(target["id"]): (target, output) for target, output in released_runs(DATA_ROOT, "scienceworld")}


# 74: five steps to success. (Target 7, with free-text replies and `check valid actions`, replays identically
# too, in the bench: each episode here costs a JVM start.)
@pytest.mark.parametrize("target_id", [74])
def test_released_transcript_replays_identically(runs: dict[int, tuple[dict[str, Any], dict[str, Any]]],
                                                 target_id: int) -> None:
    target, output = runs[target_id]
    transcript = SPEC.parse_transcript(output)
    result = replay(SPEC, ENV_ROOT, target, transcript)
    assert result.initial_identical, "look around, then the inventory"
    assert result.mismatches == [], result.first_mismatch
    assert result.steps == output["num_steps"]
    assert result.outcome_identical and result.ours == (True, 1.0)


def test_parse_action_reads_every_reply_as_the_reference_did(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    assert count_actions_read_as_released((output for _, output in runs.values()), parse_action) == 2410
    assert SPEC.parse_transcript(runs[0][1]).steps[-1].observation == "No known action matches that input."


def test_the_simulators_gold_path_succeeds_by_the_subgoal_rules(
        runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    target, _ = runs[4]  # three subgoals: move outside, focus on the longest- then the shortest-lived animal
    oracle = start_simulator()
    try:
        oracle.load(target["task_name"], target["var"], simplificationStr=scienceworld.SIMPLIFICATIONS,
                    generateGoldPath=True)
        gold = list(oracle.get_gold_action_sequence())  # type: ignore[attr-defined]
    finally:
        oracle.close()
    assert 0 < len(gold) < SPEC.step_cap

    env = ScienceWorldEnvironment(SimulatorSupply(spare=0))
    try:
        first = env.reset(target)
        assert "In your inventory, you see:" in first
        listing = env.step("check valid actions")
        assert listing.observation.startswith("Choose an action from these valid actions: ")
        assert "reset task" not in listing.observation and listing.reward == 0.0
        results = []
        for action in gold:  # played as an agent would be: until the environment says done
            results.append(env.step(action))
            if results[-1].done:
                break
    finally:
        env.close()
    found: set[int] = set()
    for result in results:  # the reward: share of subgoal patterns matched by some observation so far
        found |= {index for index, pattern in enumerate(target["subgoals"]) if re.search(pattern, result.observation)}
        assert result.reward == pytest.approx(len(found) / len(target["subgoals"]))
    assert results[-1].done and results[-1].reward == 1.0, "the gold path completes every subgoal"
    assert not any(result.done for result in results[:-1]), "done exactly when the last subgoal is matched"
    outcome = env.outcome()
    assert outcome.success and outcome.steps == len(results) + 1


class FakeSimulator:
    started = 0

    def __init__(self) -> None:
        FakeSimulator.started += 1
        self.number = FakeSimulator.started
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_supply_hands_out_each_simulator_once_and_keeps_a_spare_starting() -> None:
    made: list[FakeSimulator] = []
    lock = threading.Lock()

    def start() -> Any:
        with lock:
            made.append(FakeSimulator())
            return made[-1]

    supply = SimulatorSupply(spare=1, start=start)
    supply.prime()
    taken = [supply.take() for _ in range(3)]
    assert len({id(simulator) for simulator in taken}) == 3, "never the same simulator twice"
    for simulator in taken:
        supply.discard(simulator)
    assert all(simulator.closed for simulator in taken)
    supply.close()
    assert 3 <= len(made) <= 4 and all(simulator.closed for simulator in made), "closing stops (or cancels) the spare"
    with pytest.raises(RuntimeError, match="closed"):
        supply.take()


def test_missing_names_the_package_or_java(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert SPEC.missing(ENV_ROOT) is None
    monkeypatch.setattr(scienceworld.shutil, "which", lambda name: None)
    scienceworld._java_problem.cache_clear()
    try:
        assert "needs Java 8 or newer on PATH" in (SPEC.missing(ENV_ROOT) or "")
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "scienceworld" else real(name))
        assert SPEC.missing(ENV_ROOT) == ("scienceworld needs the Python package scienceworld==1.2.2 "
                                          "(pip install 'clue[agentic]')")
        with pytest.raises(EnvironmentUnavailable, match=r"scienceworld==1\.2\.2"):
            SPEC.make(ENV_ROOT)
    finally:
        scienceworld._java_problem.cache_clear()


def test_prompt_puts_memory_between_example_and_goal(runs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    target, output = runs[74]
    first = SPEC.parse_transcript(output).initial_observation or ""
    block = "## Retrieved memory\n<memory>\n1. Look around before moving.\n</memory>"
    message = SPEC.first_user_message(target, first, block)
    goal = message.index(f"Your goal: {target['modified_goal']}")
    assert message.index("ACTION: wait1") < message.index(block) < goal
    assert message.endswith(f"Observation: {first}")
    assert SPEC.memory_placement == "user" and SPEC.step_cap == 30 and SPEC.system_prompt(target)
