"""`clue eval` says which model serves each role, and warns before hours on the embedded CPU model."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from clue.bench.data.datasets import get_dataset
from clue.bench.data.loader import count_sources, load_pairs
from clue.cli import app
from clue.commands.run_notice import announce_run, models_line
from clue.config import load_settings


def readme_example_pairs(data_root: Path) -> tuple[list, dict[str, int]]:  # type: ignore[type-arg]
    """The README's first `clue eval` example: membench-high and GameOf24, test split, --limit 20."""
    pairs = [pair for name in ("membench-high", "GameOf24")
             for pair in load_pairs(data_root, name, "test", limit=20, warn=print)]
    return pairs, {name: get_dataset(name).repeats.runs_for(count_sources(data_root, name, "test"))
                   for name in ("membench-high", "GameOf24")}


def test_the_readme_example_on_the_default_backend_warns_of_hours(data_root: Path) -> None:
    pairs, repeats = readme_example_pairs(data_root)
    said: list[str] = []
    warned: list[str] = []
    announce_run(load_settings(env={}), pairs, repeats, say=said.append, warn=warned.append)
    assert said == ["models: extractor, solver, judge: qwen2.5-coder-1.5b (embedded, on this CPU)"]
    assert len(warned) == 1 and "hours" in warned[0] and "--model smollm2-135m --limit 2" in warned[0]
    assert f"{sum(repeats[p.dataset] for p in pairs)} rollouts" in warned[0]


def test_an_endpoint_or_a_small_run_has_no_warning(data_root: Path) -> None:
    pairs, repeats = readme_example_pairs(data_root)
    warned: list[str] = []
    endpoint = load_settings(env={}, cli={"backend": "openai", "base_url": "http://gpu:8000/v1", "model": "Qwen3"})
    announce_run(endpoint, pairs, repeats, say=lambda line: None, warn=warned.append)
    announce_run(load_settings(env={}), pairs[:1], {name: 1 for name in repeats}, say=lambda line: None,
                 warn=warned.append)
    assert warned == []
    mixed = load_settings(env={}, cli={"backend": "openai", "base_url": "http://gpu:8000/v1", "model": "Qwen3"},
                          role_overrides={"judge": {"model": "gpt-4o"}})
    assert models_line(mixed, ("extractor", "solver", "judge")) == (
        "models: extractor, solver: Qwen3 at http://gpu:8000/v1; judge: gpt-4o at http://gpu:8000/v1")


def test_eval_prints_its_models(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "eval", "--prompt", "simple",
                                      "--datasets", "membench-high", "--split", "train", "--limit", "2",
                                      "--repeats", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "models: extractor, solver, judge: " in result.output and "(scripted)" in result.output
