"""ALFWorld environment: replay of a released transcript, a hand-written episode, the grammar adjustment."""

from __future__ import annotations

import json
from pathlib import Path

from clue.bench.envs.alfworld import SPEC, THINK_REPLY, game_file, parse_action, reference_grammar
from clue.bench.envs.replay import MODEL_DIR, released_runs, replay

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT.parent / "shared" / "behemoth"
ENV_ROOT = ROOT.parent / "shared" / "agentic"
OUTPUTS = DATA / "data_collection" / "train" / "alfworld" / MODEL_DIR / "1-shot" / "target_output.jsonl"
PENCIL_TARGET = 25  # "put a pencil in shelf"; the released run wins in 8 steps


def _target(target_id: int) -> dict:  # type: ignore[type-arg]
    return next(t for t, o in released_runs(DATA, "alfworld") if t["id"] == target_id)


def test_missing_names_packages_or_game_files(tmp_path: Path) -> None:
    assert SPEC.missing(ENV_ROOT) is None
    message = SPEC.missing(tmp_path)
    assert message is not None and "game files" in message and str(tmp_path) in message


def test_target_game_files_resolve_under_the_env_root() -> None:
    for target, _ in released_runs(DATA, "alfworld"):
        assert game_file(ENV_ROOT, target).is_file(), target["id"]


def test_grammar_speaks_the_reference_verbs() -> None:
    grammar = json.loads(game_file(ENV_ROOT, _target(PENCIL_TARGET)).read_text())["grammar"]
    adjusted = reference_grammar(grammar)
    assert 'template :: "move {o} to {r}";' in grammar
    assert "move {o} to {r}" not in adjusted and "You arrive at" not in adjusted
    assert adjusted.count('template :: "put {o} in/on {r}";') == 2
    assert "You put the {o.name} in/on the {r.name}." in adjusted


def test_parse_action_gives_the_reference_actions() -> None:
    for line in OUTPUTS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        replies = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
        assert [parse_action(r) for r in replies] == [s["action"] for s in record["trajectory"]]


def test_a_released_winning_run_replays_identically() -> None:
    target, output = next((t, o) for t, o in released_runs(DATA, "alfworld") if t["id"] == PENCIL_TARGET)
    result = replay(SPEC, ENV_ROOT, target, SPEC.parse_transcript(output))
    assert result.initial_identical
    assert result.mismatches == [] and result.identical_observations == result.steps == 8
    assert result.outcome_identical and result.ours == (True, 1.0)


def test_a_hand_written_episode_follows_the_game_rules() -> None:
    env = SPEC.make(ENV_ROOT)
    try:
        first = env.reset(_target(PENCIL_TARGET))
        assert first.startswith("You are in the middle of a room.") and first.endswith("put a pencil in shelf.")
        desk = env.step("go to desk 2")
        assert desk.observation.startswith("On the desk 2, you see") and "pencil 2" in desk.observation
        assert env.step("take pencil 2 from desk 2").observation == "You pick up the pencil 2 from the desk 2."
        assert env.step("go to shelf 3").observation.startswith("On the shelf 3")
        for wrong in ("move pencil 2 to shelf 3", "put pencil 2 in shelf 3", "put pencil 2 on shelf 3"):
            result = env.step(wrong)
            assert (result.observation, result.reward, result.done) == ("Nothing happens.", 0.0, False)
        assert "put pencil 2 in/on shelf 3" in (env.valid_actions() or [])
        assert env.step("think: the shelf takes it with in/on").observation == THINK_REPLY
        assert env.outcome().steps == 7 and not env.outcome().success
        won = env.step("put pencil 2 in/on shelf 3")
        assert won.observation == "You put the pencil 2 in/on the shelf 3."
        assert won.done and won.reward == 1.0
        assert env.outcome().success and env.outcome().steps == 8
    finally:
        env.close()
