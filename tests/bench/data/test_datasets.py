"""Whether a dataset can run depends on what is installed and on the env root, and says what is missing."""

from __future__ import annotations

import importlib
import json
import types
from pathlib import Path

import pytest

from clue.bench.data.datasets import DATASETS, get_dataset, missing_resources, runnable_datasets
from clue.bench.envs import registry
from clue.bench.sandbox import bigcodebench

AGENTIC = {"alfworld", "fever", "pddl", "babyai", "scienceworld", "toolbench"}


def provide_fever_and_toolbench(env_root: Path) -> None:
    pages = env_root / "fever" / "wiki-pages"
    pages.mkdir(parents=True)
    (pages / "p.jsonl").write_text(json.dumps({"title": "A", "text": "a"}) + "\n")
    (env_root / "toolbench" / "tool_response_cache" / "Data").mkdir(parents=True)


def test_every_agentic_set_needs_an_environment_and_says_what_is_missing(tmp_path: Path) -> None:
    assert {spec.name for spec in DATASETS if spec.resources == "environment"} == AGENTIC
    assert all(spec.env in registry.ENV_MODULES for spec in DATASETS if spec.env)
    needs_files = {"alfworld", "fever", "pddl", "toolbench"}  # BabyAI and ScienceWorld need packages only
    for name in needs_files:
        reason = missing_resources(get_dataset(name), tmp_path)
        assert reason is not None and "\n" not in reason and name in reason
    for name in AGENTIC - needs_files:
        assert missing_resources(get_dataset(name), tmp_path) is None  # their packages are installed here
    assert missing_resources(get_dataset("GameOf24"), tmp_path) is None


def test_resources_present_make_a_dataset_runnable(tmp_path: Path) -> None:
    provide_fever_and_toolbench(tmp_path)
    runnable = {spec.name for spec in runnable_datasets(tmp_path)}
    assert {"fever", "toolbench"} <= runnable
    assert missing_resources(get_dataset("fever"), tmp_path) is None


def test_a_missing_package_or_module_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ENV_MODULES, "pddl", "clue_test_no_such_env_module")
    assert missing_resources(get_dataset("pddl"), tmp_path) == "pddl: its environment is not part of this build"

    def import_needing_a_package(name: str) -> types.ModuleType:
        raise ModuleNotFoundError("No module named 'pddlgym'", name="pddlgym")

    monkeypatch.setattr(importlib, "import_module", import_needing_a_package)
    reason = missing_resources(get_dataset("pddl"), tmp_path)
    assert reason is not None and "'pddlgym'" in reason and "clue[agentic]" in reason


def test_bigcodebench_asks_the_code_tests_solver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_dataset("bigcodebench")
    seen: list[Path] = []

    def missing(env_root: Path, data_root: Path | None = None) -> str | None:
        seen.append(env_root)
        return None if (env_root / "bigcodebench").is_dir() else "bigcodebench needs its tasks"

    monkeypatch.setattr(bigcodebench, "missing", missing)
    assert missing_resources(spec, tmp_path) == "bigcodebench needs its tasks"
    (tmp_path / "bigcodebench").mkdir()
    assert missing_resources(spec, tmp_path) is None and seen == [tmp_path, tmp_path]
