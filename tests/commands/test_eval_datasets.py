"""`clue eval` over several datasets at once: `all` and category names, the `benchmark` split (ID test plus
OOD in one run), refused splits, repeats per test source, and per-dataset solver settings recorded in the
run spec (scripted backend, real BEHEMOTH pairs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clue.cli import app


def invoke(data_root: Path, out: Path, datasets: str, split: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "--data-root", str(data_root), "eval",
                                      "--prompt", "simple", "--datasets", datasets, "--split", split,
                                      "--out", str(out), *extra])
    return result.exit_code, result.output


def rollouts(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines() if line.strip()]


def test_a_category_with_the_benchmark_split_runs_id_and_ood_sets_in_one_run(tmp_path: Path,
                                                                                data_root: Path) -> None:
    out = tmp_path / "run"
    code, output = invoke(data_root, out, "personalization,GPQA_Diamond", "benchmark", "--limit", "2",
                          "--repeats", "1", "--solver-max-tokens", "membench-high=100")
    assert code == 0, output
    for name in ("membench-low", "personamem-v2", "prefeval"):  # no released sources: left out, said so
        assert f"left out {name}: cannot run here: {name}: no data file" in output
    log = json.loads((out / "log.json").read_text())
    assert log["spec"]["datasets"] == ["membench-high", "longmemeval", "GPQA_Diamond"]
    assert {(r["dataset"], r["ood"]) for r in rollouts(out)} == {
        ("membench-high", False), ("longmemeval", True), ("GPQA_Diamond", True)}
    recorded = log["spec"]["settings"]["solvers"]["datasets"]
    assert recorded["membench-high"]["max_tokens"] == 100 and recorded["GPQA_Diamond"]["max_tokens"] == 2048
    assert recorded["longmemeval"] == {"kind": "single_turn", "memory_placement": "user", "max_tokens": 512,
                                       "stop": [], "examples": None, "step_cap": None}


@pytest.mark.parametrize(("datasets", "split", "message"), [
    ("GPQA_Diamond", "test", "GPQA_Diamond is out-of-distribution: it has no test split (use --split ood, or "
                             "benchmark for ID test plus OOD)"),
    ("all", "test", "is out-of-distribution: it has no test split"),
    ("GameOf24", "all", "--split all would mix training sources into the test scores; use --split benchmark"),
    ("GameOf24", "ood", "GameOf24 is in-distribution"),
    ("prefeval", "test", "--datasets prefeval: cannot run here: prefeval: no data file"),
    ("nope", "test", "unknown dataset 'nope'"),
])
def test_a_split_or_dataset_that_cannot_be_scored_is_refused_in_one_line(
        tmp_path: Path, data_root: Path, datasets: str, split: str, message: str) -> None:
    out = tmp_path / "run"
    code, output = invoke(data_root, out, datasets, split, "--limit", "1")
    assert code in (2, 3), output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in output.replace("\n", " "), output
    assert not out.exists(), "a refused run must not touch the disk"


def test_repeats_are_counted_per_test_source_not_per_limited_pair(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    code, output = invoke(data_root, out, "GameOf24,MathEquationBalancer", "test", "--limit", "1")
    assert code == 0, output
    runs = {(r["dataset"], r["repeat"]) for r in rollouts(out)}
    # GameOf24 has 80 test sources: 3 runs; MathEquationBalancer 200: one run, even limited to 1 pair
    assert runs == {("GameOf24", 0), ("GameOf24", 1), ("GameOf24", 2), ("MathEquationBalancer", 0)}
    assert json.loads((out / "log.json").read_text())["spec"]["repeats"] == {"GameOf24": 3,
                                                                            "MathEquationBalancer": 1}


@pytest.mark.model
def test_a_category_on_the_benchmark_split_with_the_real_small_model(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "--backend", "local", "--model", "smollm2-135m", "--no-cache", "--data-root", str(data_root),
        "--role", "solver.max_tokens=48", "eval", "--prompt", "no-memory",  # no extraction: a quick run
        "--datasets", "personalization", "--split", "benchmark", "--limit", "1", "--repeats", "1",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    done = rollouts(out)
    assert {(r["dataset"], r["ood"]) for r in done} == {("membench-high", False), ("longmemeval", True)}
    assert all(r["error"] is None and r["solver_output"] for r in done), [r["error"] for r in done]
    judged = next(r for r in done if r["dataset"] == "longmemeval")
    judge_calls = [e for e in judged["events"] if e["kind"] == "llm" and e["role"] == "judge"]
    assert len(judge_calls) == 1 and judge_calls[0]["completion_tokens"] <= 10
    results = json.loads((out / "log.json").read_text())["results"]
    assert {(d["dataset"], d["ood"]) for d in results["datasets"]} == {("membench-high", False),
                                                                       ("longmemeval", True)}


def test_resume_with_other_dataset_settings_is_refused_in_one_line(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    args = ("--limit", "1", "--repeats", "1")
    assert invoke(data_root, out, "membench-high", "test", *args)[0] == 0
    before = (out / "rollouts.jsonl").read_text()
    code, output = invoke(data_root, out, "membench-high", "test", *args, "--solver-max-tokens",
                          "membench-high=99", "--resume")
    assert code == 2 and "membench-high solver max_tokens (512 there, 99 now)" in output, output
    assert (out / "rollouts.jsonl").read_text() == before
    assert invoke(data_root, out, "membench-high", "test", *args, "--resume")[0] == 0


def test_a_bad_dataset_setting_in_clue_toml_is_one_line_and_touches_nothing(tmp_path: Path, data_root: Path) -> None:
    toml = tmp_path / "clue.toml"
    toml.write_text("[datasets.GameOf24]\nexamples = 1\n")
    for command in (["eval", "--prompt", "simple", "--split", "test"], ["evolve"]):
        out = tmp_path / command[0]
        result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "--config", str(toml),
                                          "--data-root", str(data_root), *command, "--datasets", "GameOf24",
                                          "--out", str(out)])
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 2 and len(errors) == 1, result.output
        assert "clue.toml, table datasets.GameOf24: dataset GameOf24 has no examples" in errors[0]
        assert not out.exists()
