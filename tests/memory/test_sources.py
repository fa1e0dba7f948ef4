"""Typed sources: a conversation or a trajectory, rendered by one function. Released agentic sources parse
as trajectories whose rendering is exactly the released conversation, outcome line included."""

from __future__ import annotations

import pytest

from clue.bench.data.loader import default_data_root, load_pairs
from clue.memory.render import EXTRACTION_INSTRUCTION, extraction_messages, render_conversation, render_source
from clue.memory.sources import Conversation, Trajectory, TrajectoryStep, Turn, trajectory_from_turns

AGENTIC = ("alfworld", "babyai", "pddl", "scienceworld", "fever")


def test_a_conversation_renders_role_tagged_turns_inside_a_conversation_tag() -> None:
    """The reference's layout: one `<role>content</role>` per turn, content untouched, joined by newlines."""
    text = render_source(Conversation(turns=[Turn(role="user", content="hi "), Turn(role="assistant", content="yo")]))
    assert text == "<conversation>\n<user>hi </user>\n<assistant>yo</assistant>\n</conversation>"
    assert render_conversation([{"role": "user", "content": "hi "}, {"role": "assistant", "content": "yo"}]) == text


def test_the_extraction_user_turn_is_an_instruction_line_then_the_conversation() -> None:
    messages = extraction_messages("PROMPT", Conversation(turns=[Turn(role="user", content="I like tea")]))
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == "PROMPT"
    instruction, blank, conversation = messages[1]["content"].partition("\n\n")
    assert instruction == EXTRACTION_INSTRUCTION and "\n" not in instruction and blank
    assert conversation == "<conversation>\n<user>I like tea</user>\n</conversation>"


def test_an_empty_system_turn_is_kept_in_a_trajectory_as_the_reference_renders_it() -> None:
    turns = [Turn(role="system", content=""), Turn(role="user", content="Go to the red ball."),
             Turn(role="assistant", content="turn left"), Turn(role="user", content="You see a wall.")]
    trajectory = trajectory_from_turns(turns)
    assert trajectory is not None and trajectory.system == ""
    assert render_source(trajectory) == render_conversation(t.model_dump() for t in turns)
    assert render_source(trajectory).startswith("<conversation>\n<system></system>\n<user>Go to the red ball.")
    no_system = trajectory_from_turns(turns[1:])
    assert no_system is not None and no_system.system is None and "<system>" not in render_source(no_system)


def test_a_trajectory_shows_actions_observations_and_the_outcome_line() -> None:
    trajectory = Trajectory(system="You act in a house.", task="Put a mug in the sink.",
                            steps=[TrajectoryStep(action="go to sink 1", observation="You see a sink 1.")],
                            outcome_lines=["Nothing happens.", "You failed the task."], success=False)
    text = render_source(trajectory)
    assert text.index("<system>") < text.index("Put a mug") < text.index("<assistant>go to sink 1")
    assert text.rstrip().endswith("<user>You failed the task.</user>\n</conversation>")
    assert extraction_messages("PROMPT", trajectory)[1]["content"].endswith("\n\n" + text)


@pytest.mark.parametrize("dataset", AGENTIC)
def test_released_agentic_sources_are_trajectories_that_render_as_released(dataset: str) -> None:
    pairs = load_pairs(default_data_root(), dataset, "all", limit=25, warn=lambda message: None)
    assert pairs, f"no {dataset} pairs on disk"
    for pair in pairs:
        source = pair.source
        assert isinstance(source, Trajectory), f"{pair.key} did not parse as a trajectory"
        assert render_source(source) == render_conversation(t.model_dump() for t in pair.source_messages)
        assert source.steps, f"{pair.key}: a trajectory without steps"
        ending = (source.outcome_lines or [source.steps[-1].observation])[-1]
        if dataset == "babyai":  # AgentBoard appends the status to the last observation instead
            assert ending.rstrip().endswith(("The task is completed.", "The task is not completed."))
        else:
            assert ending.startswith(("You failed the task", "You successfully finished this task")), ending


def test_personalization_pairs_stay_conversations() -> None:
    pair = load_pairs(default_data_root(), "membench-high", "all", limit=1, warn=lambda message: None)[0]
    assert isinstance(pair.source, Conversation) and pair.source_kind == "conversation"


def test_turns_of_another_shape_are_not_forced_into_a_trajectory() -> None:
    assert trajectory_from_turns([Turn(role="assistant", content="hello")]) is None
    assert trajectory_from_turns([Turn(role="user", content="task"), Turn(role="user", content="x"),
                                  Turn(role="assistant", content="late")]) is None
