"""`clue play` end to end: a registered test environment, and the FEVER and ToolBench environments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.bench.envs import registry
from clue.cli import app

LAST_LINE = re.compile(r"^success: (true|false) reward: (\d+\.\d{3}) steps: (\d+)$")


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The counting environment stands in for babyai; its env root needs one file."""
    monkeypatch.setitem(registry.ENV_MODULES, "babyai", "support.counting_env")
    (tmp_path / "counting.txt").write_text("here")
    return tmp_path


def play(*args: str, stdin: str | None = None) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["play", *args], input=stdin)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_actions_file_plays_in_order_and_stops_at_done(counting: Path, tmp_path: Path, data_root: Path) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("up\n\nup\ndone\nup\n")  # target 4: goal 2; the line after done is not played
    code, lines, _ = play("--dataset", "babyai", "--target-id", "4", "--actions", str(actions),
                          "--env-root", str(counting), "--data-root", str(data_root))
    assert code == 0
    assert lines[0] == "Say up 2 times, then done."
    assert lines[1:-1] == ["> up", "count 1", "> up", "count 2", "> done", "you won"]
    assert lines[-1] == "success: true reward: 1.000 steps: 3"


def test_interactive_lists_valid_actions_and_applies_the_step_cap(counting: Path, data_root: Path) -> None:
    code, lines, _ = play("--dataset", "babyai", "--target-id", "5", "--env-root", str(counting),
                          stdin="valid\nup\njump\nup\nup\nup\nup\ndone\n")
    assert code == 0
    assert lines[1:3] == ["up", "done"]
    assert "(step cap of 5 reached)" in lines and "you won" not in lines
    match = LAST_LINE.match(lines[-1])
    assert match is not None and match.groups() == ("false", "0.750", "5")  # goal 3, counted 3 of 3, no done


def test_missing_resources_and_bad_input_are_one_line_errors(counting: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = play("--dataset", "babyai", "--target-id", "4", "--env-root", str(empty))
    assert code == 3 and "counting needs" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("CLUE_ENV_ROOT", str(counting))
    code, _, err = play("--dataset", "babyai", "--target-id", "99999")
    assert code == 2 and "no target with id 99999" in err
    code, _, err = play("--dataset", "GameOf24", "--target-id", "1")
    assert code == 2 and "has no environment to play" in err
    code, _, err = play("--dataset", "babyai", "--target-id", "4", "--actions", str(tmp_path / "nope.txt"))
    assert code == 3 and "nope.txt: file not found" in err


def test_fever_with_a_page_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path / "cache"))
    pages = tmp_path / "agentic" / "fever" / "wiki-pages"
    pages.mkdir(parents=True)
    page = {"title": "Tilda Swinton", "text": "Tilda Swinton is a British actress.\n\nShe is not vegan."}
    (pages / "a.jsonl").write_text(json.dumps(page) + "\n")
    actions = tmp_path / "fever.txt"
    # target 1: "Tilda Swinton is a vegan.", labelled NOT ENOUGH INFO in the release
    actions.write_text("Search[Tilda Swinton]\nLookup[vegan]\nFinish[REFUTES]\n")
    code, lines, _ = play("--dataset", "fever", "--target-id", "1", "--actions", str(actions),
                          "--env-root", str(tmp_path / "agentic"))
    assert code == 0
    assert lines[0] == "Claim: Tilda Swinton is a vegan."
    assert "(Result 1/1) She is not vegan." in lines and "Answer is INCORRECT" in lines
    assert lines[-1] == "success: false reward: 0.000 steps: 3"
    code, _, err = play("--dataset", "fever", "--target-id", "1", "--env-root", str(tmp_path))
    assert code == 3 and "fever needs a Wikipedia page source" in err


def test_toolbench_lists_the_target_apis_as_valid(tmp_path: Path) -> None:
    cache = tmp_path / "toolbench" / "tool_response_cache" / "Data" / "theclique_for_Data"
    cache.mkdir(parents=True)
    (cache / "transfermarkt_search.json").write_text(json.dumps({"{'name': 'messi'}": {"error": "",
                                                                                        "response": "Messi"}}))
    code, lines, _ = play("--dataset", "toolbench", "--target-id", "588", "--env-root", str(tmp_path),
                          stdin='valid\nTransfermarkt search {"name": "messi"}\n'
                                'Finish {"return_type": "give_answer", "final_answer": "He played for Barcelona."}\n')
    assert code == 0
    assert "transfermarkt_search" in lines and "Finish" in lines
    assert 'Observation: {"error": "", "response": "Messi"}' in lines
    assert lines[-1] == "success: true reward: 1.000 steps: 2"


def test_a_failing_environment_is_one_line_with_its_exit_code(counting: Path, data_root: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from support.counting_env import CountingEnvironment

    from clue.bench.envs.base import EnvironmentFailure

    def crash(self: CountingEnvironment, action: str) -> None:
        raise EnvironmentFailure("the simulator died\nwith a long trace")

    monkeypatch.setattr(CountingEnvironment, "step", crash)
    code, lines, err = play("--dataset", "babyai", "--target-id", "4", "--env-root", str(counting),
                            stdin="up\n")
    assert code == 4 and err.strip() == "error: the simulator died"
    assert not any(line.startswith("success:") for line in lines)
