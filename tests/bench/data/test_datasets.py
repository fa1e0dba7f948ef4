"""Whether a dataset can run depends on its data files, what is installed and the env root, and says what
is missing."""

from __future__ import annotations

import importlib
import json
import types
from pathlib import Path

import pytest

from clue.bench.data.datasets import DATASETS, get_dataset, missing_data, missing_resources, missing_to_run
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
    assert all(registry.ENV_MODULES[spec.name] == spec.env for spec in DATASETS if spec.env)
    needs_files = {"alfworld", "fever", "pddl", "toolbench"}  # BabyAI and ScienceWorld need packages only
    for name in needs_files:
        reason = missing_resources(get_dataset(name), tmp_path)
        assert reason is not None and "\n" not in reason and name in reason
    for name in AGENTIC - needs_files:
        assert missing_resources(get_dataset(name), tmp_path) is None  # their packages are installed here
    assert missing_resources(get_dataset("GameOf24"), tmp_path) is None


def test_resources_present_make_a_dataset_runnable(tmp_path: Path) -> None:
    provide_fever_and_toolbench(tmp_path)
    assert missing_resources(get_dataset("fever"), tmp_path) is None
    assert missing_resources(get_dataset("toolbench"), tmp_path) is None
    assert missing_to_run(get_dataset("fever"), tmp_path) is None


# The public release has no sources for these (MMLU-Pro, MemBench-Low and PrefEval have targets only,
# PersonaMem-v2 nothing, BigCodeBench nothing, ToolBench targets only): they cannot run, whatever is installed.
NO_RELEASED_SOURCES = {"membench-low", "personamem-v2", "prefeval", "MMLU_Pro_Physics", "MMLU_Pro_Engineering",
                       "bigcodebench", "toolbench"}


def test_a_dataset_without_its_released_files_is_not_runnable() -> None:
    for spec in DATASETS:
        reason = missing_data(spec)
        if spec.name in NO_RELEASED_SOURCES:
            assert reason is not None and reason.startswith(f"{spec.name}: no data file ") and "\n" not in reason
        else:
            assert reason is None, reason
    reason = missing_to_run(get_dataset("prefeval"))
    assert reason is not None and "prefeval-mcq" in reason and "source_input.jsonl" in reason


def test_missing_data_names_the_first_absent_file_and_counts_the_rest(tmp_path: Path) -> None:
    reason = missing_data(get_dataset("AIME"), tmp_path)
    assert reason is not None and "AIME_2024" in reason and reason.endswith("(+5 more)")


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
