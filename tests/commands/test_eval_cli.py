"""`clue eval` / `clue demo` with the scripted backend on real BEHEMOTH pairs: the run log, the resume
checks, per-run usage, and the exit codes of the error hierarchy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from clue.bench.run.record import read_runlog
from clue.cli import app
from clue.commands.common import run_async
from clue.errors import BadInputError, NotFoundError, TransientError


def _eval(data_root: Path, out: Path, *extra: str, resume: bool = False) -> list[str]:
    return ["--backend", "scripted", "--no-cache", "--data-root", str(data_root), *extra, "eval", "--prompt",
            "simple", "--datasets", "membench-high", "--split", "train", "--limit", "3", "--repeats", "1",
            "--out", str(out), *(["--resume"] if resume else [])]


def test_eval_writes_the_run_log_and_prints_tables_from_it(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, _eval(data_root, out))
    assert result.exit_code == 0, result.output
    log = json.loads((out / "log.json").read_text())
    assert log["version"] == 2 and log["status"] == "finished" and log["spec"]["command"] == "eval"
    spec = log["spec"]
    assert spec["datasets"] == ["membench-high"] and spec["split"] == "train" and spec["data_root"] == str(data_root)
    assert set(spec["roles"]) == {"extractor", "solver", "judge", "optimizer"}
    assert spec["roles"]["solver"] == {"backend": "scripted", "model": "qwen2.5-coder-1.5b", "base_url": None,
                                       "temperature": 0.7, "top_p": 0.8, "max_tokens": 512, "thinking": None,
                                       "seed": 42, "json_mode": "auto", "cut_thinking": "raw",
                                       "constrained_answers": False}
    assert spec["prompt_hash"] and spec["prompt_text"].startswith(
        (out / "prompt.txt").read_text()[:40]) and spec["settings"]["solvers"]["pool_size"] is None
    assert log["usage"]["solver"]["calls"] == 3 and log["samples"] == {"path": "rollouts.jsonl", "count": 3,
                                                                        "failed": 0}
    assert "prompt simple" in result.output and "LLM usage by role" in result.output


def test_resume_under_other_decoding_or_model_is_refused_in_one_line(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    assert CliRunner().invoke(app, _eval(data_root, out)).exit_code == 0
    before = (out / "rollouts.jsonl").read_text()
    changed = CliRunner().invoke(app, _eval(data_root, out, "--role", "solver.temperature=0.2", resume=True))
    assert changed.exit_code == 2
    errors = [line for line in changed.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "solver.temperature (0.7 there, 0.2 now)" in errors[0], changed.output
    assert "Traceback" not in changed.output
    other = CliRunner().invoke(app, _eval(data_root, out, "--model", "smollm2-135m", resume=True))
    assert other.exit_code == 2 and "extractor.model ('qwen2.5-coder-1.5b' there, 'smollm2-135m' now)" in \
        other.output
    thinking = CliRunner().invoke(app, _eval(data_root, out, "--role", "extractor.thinking=true", resume=True))
    assert thinking.exit_code == 2 and "extractor.thinking (None there, True now)" in thinking.output
    assert (out / "rollouts.jsonl").read_text() == before, "a refused resume must not touch the run"
    same = CliRunner().invoke(app, _eval(data_root, out, resume=True))
    assert same.exit_code == 0, same.output


def test_demo_usage_is_per_run_not_cumulative(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "demo", "--no-evolve",
                                      "--held-out", "3", "--compare", "factual-experiential", "--out", str(out)])
    assert result.exit_code == 0, result.output
    control = read_runlog(out / "no-memory").usage
    simple = read_runlog(out / "simple").usage
    rich = read_runlog(out / "factual-experiential").usage
    assert (control["extractor"]["calls"], control["solver"]["calls"]) == (0, 3)
    assert (simple["extractor"]["calls"], simple["solver"]["calls"]) == (3, 3)
    assert (rich["extractor"]["calls"], rich["solver"]["calls"]) == (3, 3)
    assert json.loads((out / "simple" / "log.json").read_text())["spec"]["command"] == "demo"


@pytest.mark.parametrize(("error", "code"), [(BadInputError("bad flag"), 2), (NotFoundError("no such run"), 3),
                                             (TransientError("endpoint down"), 5)])
def test_user_facing_errors_map_once_to_exit_codes(error: Exception, code: int) -> None:
    async def job() -> None:
        raise error

    with pytest.raises(typer.Exit) as exit_info:
        run_async(job)
    assert exit_info.value.exit_code == code


def test_a_bug_keeps_its_traceback() -> None:
    class Record(BaseModel):
        n: int

    async def job() -> None:
        Record.model_validate({"n": "not a number"})

    with pytest.raises(ValidationError):
        run_async(job)

    async def plain() -> None:
        raise ValueError("internal invariant broken")

    with pytest.raises(ValueError, match="invariant"):
        run_async(plain)


def test_unknown_dataset_and_prompt_exit_not_found(tmp_path: Path, data_root: Path) -> None:
    unknown = CliRunner().invoke(app, ["--backend", "scripted", "--data-root", str(data_root), "eval",
                                       "--datasets", "nope", "--out", str(tmp_path / "a")])
    assert unknown.exit_code == 3 and "unknown dataset 'nope'" in unknown.output
    prompt = CliRunner().invoke(app, ["--backend", "scripted", "--data-root", str(data_root), "eval",
                                      "--prompt", "no-such-prompt", "--datasets", "membench-high",
                                      "--out", str(tmp_path / "b")])
    assert prompt.exit_code == 3 and "unknown prompt" in prompt.output


def test_unreadable_judge_verdicts_are_asked_again_counted_and_shown(tmp_path: Path, data_root: Path) -> None:
    # The scripted judge answers with a memory-like reply, never a verdict: every verdict is unreadable.
    out = tmp_path / "judged"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "--data-root", str(data_root), "eval",
                                      "--prompt", "simple", "--datasets", "longmemeval", "--split", "ood",
                                      "--limit", "2", "--repeats", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    log = read_runlog(out)
    assert log.results is not None and log.results.unreadable_verdicts == 2
    assert log.usage["judge"]["calls"] == 4  # each unreadable verdict was asked once more
    assert any("2 judge verdict(s) could not be read" in w for w in log.warnings)
    shown = CliRunner().invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and "2 judge verdict(s) could not be read" in shown.output
