"""The differential run's comparison logic on recorded requests (the run itself needs the reference code and
is not part of CI)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "perf"))

from reference_diff_fields import MEMORY_TOKEN, compare, compare_rewards, group_requests


def extraction(conversation: str, instruction: str) -> dict[str, Any]:
    user = f"{instruction}\n\n<conversation>\n{conversation}\n</conversation>"
    return {"messages": [{"role": "system", "content": "PROMPT"}, {"role": "user", "content": user}],
            "temperature": 0.6, "top_p": 0.95, "max_tokens": 2048, "chat_template_kwargs": {"enable_thinking": True}}


def solve(memory_in: str, max_tokens: int, replies: int, stop: list[str] | None = None) -> list[dict[str, Any]]:
    system = f"agent {MEMORY_TOKEN}" if memory_in == "system" else "agent"
    user = f"task {MEMORY_TOKEN}" if memory_in == "user" else "task"
    calls = []
    history = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    for turn in range(replies):
        calls.append({"messages": list(history), "temperature": 0.7, "top_p": 0.8, "max_tokens": max_tokens,
                      "stop": stop, "chat_template_kwargs": {"enable_thinking": False}})
        history += [{"role": "assistant", "content": f"act {turn}"}, {"role": "user", "content": "obs"}]
    return calls


def test_identical_structure_agrees_everywhere_and_wording_is_only_measured() -> None:
    ours = [extraction("<user>hi</user>", "Our own instruction."), *solve("user", 512, 2)]
    theirs = [extraction("<user>hi</user>", "Their instruction line."), *solve("user", 512, 2)]
    result = compare(ours, theirs, pairs=1)
    assert result.differences == [] and result.agreed == result.compared > 10
    assert 0.5 < result.mean_similarity < 1.0


def test_each_structural_difference_is_named() -> None:
    ours = [extraction("<user>hi</user>", "x"), *solve("system", 512, 1)]
    theirs = [extraction("<user>hi </user>", "x"), *solve("user", 2048, 3, stop=["\n"])]
    result = compare(ours, theirs, pairs=1)
    named = {d.split(":")[0] for d in result.differences}
    assert {"solve.memory_at", "solve.max_tokens", "solve.stop", "solve calls per target",
            "extract.conversation"} <= named
    compare_rewards([1.0, 0.0], [1.0, 1.0], result)
    assert result.per_field["reward"] == [1, 2]


def test_an_example_episode_in_the_first_turns_is_a_field() -> None:
    shown = solve("user", 512, 1)
    shown[0]["messages"][0]["content"] += "\nHere is an example:\n> look"
    result = compare(shown, solve("user", 512, 1), pairs=1)
    assert result.per_field["solve.examples"] == [0, 1]
    assert compare(shown, shown, pairs=1).per_field["solve.examples"] == [1, 1]


def test_a_solver_episode_is_one_group_of_calls() -> None:
    groups = group_requests([*solve("user", 512, 3), extraction("<user>a</user>", "x")])
    assert [len(g) for g in groups["solve"]] == [3] and len(groups["extract"]) == 1
