from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from clue.bench.data.datasets import (
    DATASETS,
    NotRunnableError,
    UnknownDatasetError,
    dataset_names,
    get_dataset,
    missing_to_run,
)
from clue.bench.data.loader import (
    DataRootError,
    count_sources,
    load_pairs,
    load_reference_outputs,
    load_sources,
    load_targets,
    subset_dir,
)
from clue.bench.data.records import ChoiceTarget, PrefEvalTarget, ProblemTarget
from clue.bench.data.split import TEST_CAP, SplitMismatchError
from clue.errors import BadInputError

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


# --- registry


def test_registry_has_the_18_datasets() -> None:
    assert len(DATASETS) == 18
    by_category = {c: [d.name for d in DATASETS if d.category == c] for c in ("personalization",
                                                                               "problem-solving", "agentic")}
    assert len(by_category["personalization"]) == 5
    assert len(by_category["problem-solving"]) == 7
    assert len(by_category["agentic"]) == 6
    assert {d.name for d in DATASETS if d.ood} == {"longmemeval", "GPQA_Diamond", "toolbench"}
    assert get_dataset("AIME").subsets == ("AIME_2024", "AIME_2025", "AIME_2020_2024")


def test_lookup_is_case_insensitive_and_knows_directory_names() -> None:
    assert get_dataset("gameof24").name == "GameOf24"
    assert get_dataset("MEMBENCH-HIGH").name == "membench-high"
    assert get_dataset("prefeval-mcq").name == "prefeval"
    assert get_dataset("personamem-v2-val").name == "personamem-v2"


def test_unknown_dataset_lists_known_names() -> None:
    with pytest.raises(UnknownDatasetError) as info:
        get_dataset("AIME_2024")  # a subset, not a dataset
    assert isinstance(info.value, BadInputError)  # a user error: one line, exit 3
    for name in dataset_names():
        assert name in str(info.value)


def test_runnable_flags(tmp_path: Path) -> None:
    runnable = {d.name for d in DATASETS if missing_to_run(d, tmp_path, DATA_ROOT) is None}  # empty env root
    assert {"membench-high", "AIME", "GameOf24", "GPQA_Diamond", "longmemeval"} <= runnable
    assert not runnable & {"prefeval", "personamem-v2", "membench-low"}  # no released sources
    assert not runnable & {"bigcodebench", "alfworld", "fever", "pddl", "toolbench"}  # files under the env root
    assert {"babyai", "scienceworld"} <= runnable  # packages (and Java) only
    reason = missing_to_run(get_dataset("bigcodebench"), tmp_path, DATA_ROOT)
    assert reason is not None and "bigcodebench/openai/Qwen3-32B/source_input.jsonl" in reason
    assert issubclass(NotRunnableError, BadInputError)


# --- real files


def test_counts_on_the_real_files() -> None:
    warn = Warnings()
    assert sum(len(v) for v in load_sources(DATA_ROOT, "AIME", warn=warn).values()) == 30 + 30 + 133
    targets = load_targets(DATA_ROOT, "membench-high", warn=warn)["membench-high"]
    assert len(targets) == 400
    assert isinstance(targets[0], ChoiceTarget) and targets[0].ground_truth == "B"
    prefeval = load_targets(DATA_ROOT, "prefeval", warn=warn)["prefeval-mcq"]
    assert len(prefeval) == 1000 and isinstance(prefeval[0], PrefEvalTarget)
    physics = load_targets(DATA_ROOT, "MMLU_Pro_Physics", warn=warn)["MMLU_Pro_Physics"]
    assert len(physics) == 1299 and isinstance(physics[0], ProblemTarget)
    assert warn == []


@pytest.mark.parametrize(
    ("dataset", "split", "expected"),
    [
        ("membench-high", "train", 20),
        ("membench-high", "test", TEST_CAP),  # 380 left after training, capped
        ("GameOf24", "train", 20),
        ("GameOf24", "test", 80),
        ("AIME", "train", 15 + 15 + 20),
        ("AIME", "test", 193 - 50),
        ("MathEquationBalancer", "test", TEST_CAP),
        ("alfworld", "test", 114),
        ("GPQA_Diamond", "ood", 12),
        ("longmemeval", "ood", 12),
        ("membench-high", "all", 400),
    ],
)
def test_split_sizes(dataset: str, split: str, expected: int) -> None:
    warn = Warnings()
    pairs = load_pairs(DATA_ROOT, dataset, split, warn=warn)  # type: ignore[arg-type]
    assert len(pairs) == expected
    assert len({p.key for p in pairs}) == expected
    assert warn == []


def test_train_and_test_are_disjoint_and_pair_with_the_first_target() -> None:
    warn = Warnings()
    train = load_pairs(DATA_ROOT, "GameOf24", "train", warn=warn)
    test = load_pairs(DATA_ROOT, "GameOf24", "test", warn=warn)
    assert not {p.source_id for p in train} & {p.source_id for p in test}
    assert [p.source_id for p in train][:5] == [2, 7, 8, 10, 14]
    first = load_pairs(DATA_ROOT, "GameOf24", "all", limit=1, warn=warn)[0]
    assert (first.source_id, first.target_id, first.key) == (0, 35, "GameOf24:0:35")
    assert first.target["task_main"] == "5 6 8 10"


def test_test_split_is_deterministic_and_capped_by_id() -> None:
    pairs = load_pairs(DATA_ROOT, "membench-high", "test", warn=Warnings())
    ids = [p.source_id for p in pairs]
    assert ids == sorted(ids)
    assert pairs == load_pairs(DATA_ROOT, "membench-high", "test", warn=Warnings())


def test_limit() -> None:
    assert len(load_pairs(DATA_ROOT, "AIME", "test", limit=7, warn=Warnings())) == 7


def test_wrong_split_for_the_kind_of_dataset_is_refused_with_the_split_to_use() -> None:
    with pytest.raises(SplitMismatchError, match=r"GPQA_Diamond is out-of-distribution.*benchmark"):
        load_pairs(DATA_ROOT, "GPQA_Diamond", "test", warn=Warnings())
    with pytest.raises(SplitMismatchError, match="GameOf24 is in-distribution"):
        load_pairs(DATA_ROOT, "GameOf24", "ood", warn=Warnings())
    with pytest.raises(SplitMismatchError, match="no train split"):
        load_pairs(DATA_ROOT, "longmemeval", "train", warn=Warnings())


def test_benchmark_is_test_for_in_distribution_sets_and_ood_for_the_others() -> None:
    for name, same in (("GameOf24", "test"), ("AIME", "test"), ("GPQA_Diamond", "ood"), ("longmemeval", "ood")):
        assert load_pairs(DATA_ROOT, name, "benchmark", limit=40, warn=Warnings()) == \
            load_pairs(DATA_ROOT, name, same, limit=40, warn=Warnings())  # type: ignore[arg-type]
    # `all` keeps the training sources; `benchmark` never does
    train = {p.source_id for p in load_pairs(DATA_ROOT, "GameOf24", "train", warn=Warnings())}
    assert train and not train & {p.source_id for p in load_pairs(DATA_ROOT, "GameOf24", "benchmark",
                                                                  warn=Warnings())}


def test_released_but_sourceless_dataset_warns_once() -> None:
    warn = Warnings()
    assert load_pairs(DATA_ROOT, "membench-low", "test", warn=warn) == []
    assert len(warn) == 1
    assert warn[0].startswith("no sources: ")
    assert warn[0].endswith(
        "membench-low/openai/Qwen3-32B/source_input.jsonl missing; dataset membench-low has no pairs"
    )


def test_reference_outputs() -> None:
    path = DATA_ROOT / "data_collection/train/GameOf24/openai/Qwen3-32B/zero-shot/target_output.jsonl"
    outputs = load_reference_outputs(path, warn=Warnings())
    assert len(outputs) == 100
    assert outputs[0].label is False and outputs[0].final_answer == "No final answer found"
    agentic = DATA_ROOT / "data_collection/train/pddl/openai/Qwen3-32B/1-shot/target_output.jsonl"
    assert len(load_reference_outputs(agentic, warn=Warnings())) == 60


def test_repeats_are_counted_per_test_source_on_the_real_files() -> None:
    def runs(name: str, split: str = "test", requested: int | None = None) -> int:
        return get_dataset(name).repeats.runs_for(count_sources(DATA_ROOT, name, split), requested)  # type: ignore[arg-type]

    # membench-high: 400 sources but each lists several questions; its test sources reach the 200 cap
    assert count_sources(DATA_ROOT, "membench-high", "test") == TEST_CAP and runs("membench-high") == 1
    assert count_sources(DATA_ROOT, "GameOf24", "test") < TEST_CAP and runs("GameOf24") == 3
    assert count_sources(DATA_ROOT, "GPQA_Diamond", "ood") < TEST_CAP and runs("GPQA_Diamond", "ood") == 3
    assert runs("GPQA_Diamond", "ood", requested=5) == 3  # at most 3, as the reference
    assert runs("GameOf24", requested=5) == 5
    assert runs("longmemeval", "ood") == 1 and runs("longmemeval", "ood", requested=3) == 1
    assert count_sources(DATA_ROOT, "MathEquationBalancer", "test") == TEST_CAP  # 1 run, whatever --limit says
    assert runs("MathEquationBalancer") == 1


def test_sources_not_pairs_are_counted_where_a_source_has_several_targets(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "data_collection/train/membench-low/openai/Qwen3-32B"
    folder.mkdir(parents=True)
    turn = [{"role": "user", "content": "I like jazz."}]
    (folder / "source_input.jsonl").write_text("".join(
        json.dumps({"id": i, "messages": turn, "target_ids": [3 * i, 3 * i + 1, 3 * i + 2]}) + "\n"
        for i in range(4)))
    (folder / "target.jsonl").write_text("".join(
        json.dumps({"id": t, "question": "Music?", "choices": {"A": "jazz", "B": "rock"}, "ground_truth": "A"})
        + "\n" for t in range(12)))
    split_file = tmp_path / "data_collection/train/global_split_per20.json"
    split_file.write_text(json.dumps({"datasets": [{"name": "membench-low", "train_source_ids": [0]}]}))
    pairs = load_pairs(tmp_path, "membench-low", "test", warn=Warnings())
    assert len(pairs) == 9 and count_sources(tmp_path, "membench-low", "test") == 3  # every target at test


# --- damaged copies


def _copy_subset(tmp_path: Path, dataset: str, subset: str, *, with_split: bool = True) -> Path:
    spec = get_dataset(dataset)
    source = subset_dir(DATA_ROOT, spec, subset)
    copy = subset_dir(tmp_path, spec, subset)
    copy.mkdir(parents=True)
    for name in ("source_input.jsonl", "target.jsonl"):
        shutil.copy(source / name, copy / name)
    if with_split:
        shutil.copy(DATA_ROOT / "data_collection/train/global_split_per20.json",
                    tmp_path / "data_collection/train/global_split_per20.json")
    return copy


def test_missing_subset_file_warns_and_keeps_the_rest(tmp_path: Path) -> None:
    _copy_subset(tmp_path, "AIME", "AIME_2024")
    _copy_subset(tmp_path, "AIME", "AIME_2025", with_split=False)
    (subset_dir(tmp_path, get_dataset("AIME"), "AIME_2025") / "target.jsonl").unlink()
    warn = Warnings()
    pairs = load_pairs(tmp_path, "AIME", "all", warn=warn)
    assert len(pairs) == 30
    assert {p.subset for p in pairs} == {"AIME_2024"}
    assert len(warn) == 2, warn
    assert "AIME_2020_2024/openai/Qwen3-32B/source_input.jsonl missing" in warn[0]
    assert "no targets: " in warn[1] and "AIME_2025/openai/Qwen3-32B/target.jsonl missing" in warn[1]


def test_missing_split_file_warns(tmp_path: Path) -> None:
    _copy_subset(tmp_path, "GameOf24", "GameOf24", with_split=False)
    warn = Warnings()
    assert load_pairs(tmp_path, "GameOf24", "train", warn=warn) == []
    assert len(warn) == 1 and "global_split_per20.json missing" in warn[0]


def test_malformed_lines_are_reported_with_file_and_line(tmp_path: Path) -> None:
    copy = _copy_subset(tmp_path, "GameOf24", "GameOf24")
    source_file = copy / "source_input.jsonl"
    lines = source_file.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:50]  # cut off mid-object
    lines[4] = '{"id": 4, "messages": [], "target_ids": "not a list"}'
    lines.insert(6, "")  # blank lines are fine
    source_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target_file = copy / "target.jsonl"
    target_lines = target_file.read_text(encoding="utf-8").splitlines()
    target_lines[35] = '{"id": 35, "task_main": "5 6 8 10"}'  # the first target of source 0
    target_file.write_text("\n".join(target_lines) + "\n", encoding="utf-8")

    warn = Warnings()
    pairs = load_pairs(tmp_path, "GameOf24", "all", warn=warn)
    assert any(w.startswith(f"{source_file}:3: invalid JSON") for w in warn), warn
    assert any(w.startswith(f"{source_file}:5: target_ids") for w in warn), warn
    assert any(w.startswith(f"{target_file}:36: input: Field required") for w in warn), warn
    assert any("target id 35 (first target of source 0) not found" in w for w in warn), warn
    real_sources = load_sources(DATA_ROOT, "GameOf24", warn=Warnings())["GameOf24"]
    pointing_at_35 = [s.id for s in real_sources if s.target_ids[0] == 35 and s.id not in (2, 4)]
    assert len(pairs) == 100 - 2 - len(pointing_at_35)
    assert all(len(w.splitlines()) == 1 for w in warn)


def test_data_root_that_does_not_exist_raises_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataRootError, match="nowhere"):
        load_pairs(missing, "GameOf24", "train", warn=Warnings())
    with pytest.raises(DataRootError, match="data_collection"):
        load_pairs(tmp_path, "GameOf24", "train", warn=Warnings())


def test_unknown_dataset_raises_before_touching_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetError, match=r"known: .*GameOf24"):
        load_pairs(tmp_path / "nowhere", "Game24", "train", warn=Warnings())


def test_a_malformed_line_changes_nothing_but_its_own_pair(tmp_path: Path) -> None:
    """--limit and the test cap choose by id: a broken line drops its pair, no other pair takes its place."""
    clean = load_pairs(DATA_ROOT, "GameOf24", "test", limit=3, warn=Warnings())
    copy = _copy_subset(tmp_path, "GameOf24", "GameOf24")
    source_file = copy / "source_input.jsonl"
    lines = source_file.read_text(encoding="utf-8").splitlines()
    broken_id = clean[0].source_id
    index = next(i for i, line in enumerate(lines) if f'"id": {broken_id},' in line)
    lines[index] = lines[index][:60]  # cut off mid-object, id still readable
    source_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    warn = Warnings()
    damaged = load_pairs(tmp_path, "GameOf24", "test", limit=3, warn=warn)
    assert [p.key for p in damaged] == [p.key for p in clean[1:]]
    assert any(f"source id {broken_id} is unreadable" in w for w in warn), warn
    full_clean = load_pairs(DATA_ROOT, "GameOf24", "test", warn=Warnings())
    full_damaged = load_pairs(tmp_path, "GameOf24", "test", warn=Warnings())
    assert [p.key for p in full_damaged] == [p.key for p in full_clean if p.source_id != broken_id]


async def test_personamem_v2_pairs_load_and_score_from_files_in_the_release_layout(tmp_path: Path) -> None:
    import json

    from clue.bench.scorers.tasks import task_for

    folder = tmp_path / "data_collection/train/personamem-v2-val/openai/Qwen3-32B"
    folder.mkdir(parents=True)
    chunk = [{"role": "user", "content": "I get anxious in crowds."}, {"role": "assistant", "content": "Noted."}]
    (folder / "source_input.jsonl").write_text(json.dumps({"id": 0, "messages": chunk, "target_ids": [0, 1]}) + "\n")
    choices = ["Go to a packed concert.", "A quiet picnic in a small park."]
    lines = [{"id": t, "source": "personamem-v2", "task_main": "Plan my Saturday?", "user_query": "Plan my Saturday?",
              "correct_answer": "A quiet picnic in a small park.", "choices": str(choices) if t else choices}
             for t in (0, 1)]  # the second line stores its list as a python literal, as some release files do
    (folder / "target.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (tmp_path / "data_collection/train/global_split_per20.json").write_text(
        json.dumps({"datasets": [{"name": "personamem-v2-val", "train_source_ids": []}]}))
    warn = Warnings()
    pairs = load_pairs(tmp_path, "personamem-v2", "benchmark", warn=warn)
    assert [p.target_id for p in pairs] == [0, 1] and not warn  # every target of the chunk at test
    task = task_for("personamem-v2")
    assert "B. A quiet picnic" in task.query_messages(pairs[0])[0]["content"]
    assert (await task.score(pairs[1], "Given your comfort, (B).", None)).reward == 1.0
    assert (await task.score(pairs[1], "(A)", None)).reward == 0.0
