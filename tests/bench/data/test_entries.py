"""One entry per dataset: the protocol's per-dataset solver settings, the registry that finds entries by
module, `all`/category selection, and the user's overrides from clue.toml and the command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clue.bench.data import datasets as registry
from clue.bench.data import entries as entries_package
from clue.bench.data.datasets import DATASETS, find_dataset, get_dataset, select_datasets
from clue.bench.data.overrides import from_cli, from_toml, merged
from clue.bench.solvers.registry import SolverOptions
from clue.errors import BadInputError

CODE_ROUNDS = {"GameOf24", "AIME", "MathEquationBalancer", "MMLU_Pro_Physics", "MMLU_Pro_Engineering",
               "GPQA_Diamond"}
ONE_LINE_AGENTS = {"alfworld", "fever", "pddl", "babyai", "scienceworld"}


def test_max_tokens_per_dataset_follow_the_reference() -> None:
    expected = {name: 2048 for name in CODE_ROUNDS} | {"bigcodebench": 1280, "toolbench": 2048, "prefeval": 128}
    for entry in DATASETS:
        assert entry.solver.max_tokens == expected.get(entry.name, 512), entry.name


def test_one_line_agents_stop_at_a_newline_and_memory_runs_are_0_shot_for_gmemory_sets() -> None:
    for entry in DATASETS:
        assert entry.solver.stop == (("\n",) if entry.name in ONE_LINE_AGENTS else ()), entry.name
    assert {e.name: e.solver.examples for e in DATASETS if e.name in ONE_LINE_AGENTS} == {
        "alfworld": 0, "fever": 0, "pddl": 0, "babyai": 1, "scienceworld": 1}
    assert {e.name: e.solver.step_cap for e in DATASETS if e.category == "agentic"} == {
        "alfworld": 20, "fever": 7, "pddl": 30, "babyai": 20, "scienceworld": 30, "toolbench": 12}


def test_memory_placement_and_solver_kind_per_dataset() -> None:
    user = {"membench-high", "membench-low", "longmemeval", "babyai", "scienceworld", *CODE_ROUNDS}
    for entry in DATASETS:
        assert entry.solver.memory_placement == ("user" if entry.name in user else "system"), entry.name
    assert {e.name for e in DATASETS if e.solver.kind == "code_rounds"} == CODE_ROUNDS
    assert {e.name for e in DATASETS if e.solver.kind == "episode"} == ONE_LINE_AGENTS | {"toolbench"}
    assert get_dataset("bigcodebench").solver.kind == "code_tests"


def test_environment_step_caps_are_read_from_the_entries() -> None:
    from clue.bench.envs.registry import env_spec

    for name in ("babyai", "scienceworld", "toolbench"):  # importable without game files
        assert env_spec(name).step_cap == get_dataset(name).solver.step_cap


def test_repeats_rule() -> None:
    assert get_dataset("longmemeval").repeats.runs_for(12) == 1
    assert get_dataset("GPQA_Diamond").repeats.runs_for(198, requested=10) == 3
    assert get_dataset("AIME").repeats.runs_for(143) == 3 and get_dataset("AIME").repeats.runs_for(200) == 1


def test_all_and_categories_select_in_registry_order() -> None:
    everything, grouped = select_datasets("all")
    assert grouped and [e.name for e in everything] == [e.name for e in DATASETS] and len(everything) == 18
    agentic, _ = select_datasets("agentic,alfworld")
    assert [e.name for e in agentic] == ["alfworld", "fever", "pddl", "babyai", "scienceworld", "toolbench"]
    named, grouped = select_datasets("GameOf24, membench-high")
    assert not grouped and [e.name for e in named] == ["GameOf24", "membench-high"]
    assert find_dataset("toy") is not None and "toy" not in [e.name for e in everything]  # a test world
    with pytest.raises(BadInputError, match=r"unknown dataset 'nope'.*or all, personalization"):
        select_datasets("nope")


def test_a_new_dataset_is_one_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "more"
    package.mkdir()
    (package / "mydata.py").write_text(textwrap.dedent("""
        from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
        from clue.bench.data.records import ProblemTarget

        ENTRIES = (DatasetEntry("MyData", "problem-solving", False, ("MyData",), ProblemTarget,
                                SolverSettings("code_rounds", "user", max_tokens=999),
                                ScorerChoice("clue.bench.scorers.tasks:IntegerProblemTask", "integer")),)
    """))
    monkeypatch.setattr(entries_package, "__path__", [*entries_package.__path__, str(package)])
    try:
        collected = registry._collect()
    finally:
        sys.modules.pop(f"{entries_package.__name__}.mydata", None)
    names = [e.name for e in collected]
    assert len(names) == len(set(names)) == 20  # 18 BEHEMOTH datasets, the toy world and the new one
    mine = next(e for e in collected if e.name == "MyData")
    assert mine.solver_settings()["max_tokens"] == 999 and names.index("MyData") > names.index("GameOf24")
    assert "MyData" not in [e.name for e in DATASETS]  # the real registry is untouched


def test_the_data_room_has_no_import_loop() -> None:
    code = ("import sys; import clue.bench.data.split, clue.bench.data.entry; "
            "assert 'clue.bench.data.datasets' not in sys.modules, 'split imports the registry'; "
            "assert 'clue.bench.data.loader' not in sys.modules; import clue.bench.data.datasets; "
            "assert 'clue.bench.data.loader' not in sys.modules, 'the registry imports the loader'")
    src = Path(__file__).resolve().parents[3] / "src"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(src)}, check=False)
    assert result.returncode == 0, result.stderr


def test_overrides_from_toml_and_command_line(tmp_path: Path) -> None:
    toml = tmp_path / "clue.toml"
    toml.write_text('[llm]\nbackend = "local"\n\n[datasets.AIME]\nmax_tokens = 4096\n\n'
                    '[datasets.alfworld]\nexamples = 1\nstop = []\n')
    layered = merged(from_toml(toml), from_cli(["aime=3000", "prefeval=64"], ["babyai.step_cap=5",
                                                                             'fever.stop=["\\n", "Obs"]']))
    assert layered == {"AIME": {"max_tokens": 3000}, "alfworld": {"examples": 1, "stop": ()},
                       "prefeval": {"max_tokens": 64}, "babyai": {"step_cap": 5}, "fever": {"stop": ("\n", "Obs")}}
    options = SolverOptions(overrides=layered, datasets=["AIME", "alfworld", "GameOf24"])
    recorded = options.as_dict()["datasets"]
    assert isinstance(recorded, dict)
    assert recorded["AIME"]["max_tokens"] == 3000 and recorded["GameOf24"]["max_tokens"] == 2048
    assert recorded["alfworld"] == {"kind": "episode", "memory_placement": "system", "max_tokens": 512, "stop": [],
                                    "examples": 1, "step_cap": 20}


@pytest.mark.parametrize(("items", "message"), [
    (["AIME=0"], "--solver-max-tokens AIME=0: dataset AIME: max_tokens: Input should be greater than or equal to 1"),
    (["nope=5"], "unknown dataset 'nope'"),
    (["5"], "--solver-max-tokens '5': expected DATASET=N"),
])
def test_bad_max_tokens_override_is_one_line(items: list[str], message: str) -> None:
    with pytest.raises(BadInputError) as info:
        from_cli(items)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_settings_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="dataset AIME has no step_cap"):
        from_cli(settings=["AIME.step_cap=3"])
    with pytest.raises(BadInputError, match=r"expected DATASET\.FIELD=VALUE"):
        from_cli(settings=["AIME.temperature=3"])
    toml = tmp_path / "clue.toml"
    toml.write_text("[datasets.GameOf24]\nmax_token = 5\n")
    with pytest.raises(BadInputError, match=r"table datasets\.GameOf24: dataset GameOf24: max_token: Extra inputs"):
        from_toml(toml)
