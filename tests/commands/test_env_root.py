"""--env-root works on every command that runs environments, and CLUE_ENV_ROOT stands in for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.cli import app


@pytest.mark.parametrize("command", [["eval", "--split", "train"], ["evolve"]])
def test_eval_and_evolve_name_what_an_agentic_set_lacks_before_any_model_runs(command: list[str],
                                                                                tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*command, "--datasets", "GameOf24,fever", "--out", str(out)]
    result = CliRunner().invoke(app, ["--backend", "scripted", *args, "--env-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "--datasets fever: cannot run here: fever needs a Wikipedia page source" in result.stderr
    assert str(tmp_path / "fever" / "wiki-pages") in result.stderr
    result = CliRunner().invoke(app, ["--backend", "scripted", *args], env={"CLUE_ENV_ROOT": str(tmp_path)})
    assert result.exit_code == 2 and str(tmp_path / "fever" / "wiki-pages") in result.stderr
    result = CliRunner().invoke(app, ["--env-root", str(tmp_path), "--backend", "scripted", *args])
    assert result.exit_code == 2 and str(tmp_path / "fever" / "wiki-pages") in result.stderr
    assert not (out / "rollouts.jsonl").exists()


def test_rescore_scores_fever_runs_offline(data_root: Path) -> None:
    released = data_root / "data_collection/train/fever/openai/Qwen3-32B/1-shot/target_output.jsonl"
    result = CliRunner().invoke(app, ["rescore", "--dataset", "fever", "--outputs", str(released)],
                                env={"CLUE_ENV_ROOT": "/nonexistent"})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "agreement: 1.000 (250/250)"
