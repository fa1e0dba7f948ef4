"""`clue play` tells a person the goal where the first observation does not (BabyAI, ScienceWorld)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.bench.data.loader import load_targets
from clue.bench.envs.babyai import runtime_goal
from clue.bench.envs.registry import env_spec
from clue.bench.envs.root import default_env_root
from clue.cli import app


def first_target(data_root: Path, dataset: str) -> dict[str, object]:
    for targets in load_targets(data_root, dataset, warn=print).values():
        for target in targets.values():
            return target.model_dump()
    raise AssertionError(f"no {dataset} target under {data_root}")


@pytest.mark.parametrize(("dataset", "action"), [("babyai", "turn left"), ("scienceworld", "look around")])
def test_play_prints_the_goal_before_the_first_observation(dataset: str, action: str, data_root: Path,
                                                           tmp_path: Path) -> None:
    problem = env_spec(dataset).missing(default_env_root())
    assert problem is None, problem
    target = first_target(data_root, dataset)
    if dataset == "babyai":
        goal = runtime_goal(str(target["game_name"]), int(str(target.get("seed", 1234))))
    else:
        goal = str(target.get("modified_goal") or target.get("goal") or target["task_name"])
    actions = tmp_path / "actions.txt"
    actions.write_text(action + "\n")
    result = CliRunner().invoke(app, ["play", "--dataset", dataset, "--target-id", str(target["id"]),
                                      "--actions", str(actions), "--data-root", str(data_root)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert goal and lines[0] == f"Your goal: {goal}"
    assert f"> {action}" in lines and lines[-1].startswith("success: ")
