"""study.toml: validation (one line naming the key), dataset selection by name and category, prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.study.cells import build_cells, cell_command
from clue.study.spec import StudyFileError, read_study_file, selected_datasets


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "culprit"), [
    ('prompts = ["simple"]\nrepeats = 0\n', "repeats"),
    ('splits = ["train"]\n', "splits[0]"),
    ('[[optimizers]]\nmethod = "evolution"\nbudget_rollouts = 10\n', "optimizers[0].method"),
    ('[[optimizers]]\nmethod = "gepa"\n', "optimizers[0]: give a budget"),
    ('[[endpoints]]\nurl = "http://a/v1"\nweight = -1\n', "endpoints[0].weight"),
    ('prompts = ["simple", "no-such-prompt"]\n', "prompts[1]: 'no-such-prompt' is neither"),
    ('datasets = ["membench-high", "nope"]\n', "datasets: unknown dataset 'nope'"),
    ('colour = "blue"\n', "colour: Extra inputs are not permitted"),
    ('prompts = ["simple", "simple"]\n', "two prompts share the name 'simple'"),
])
def test_bad_study_files_are_one_line_naming_the_key(tmp_path: Path, text: str, culprit: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(StudyFileError) as caught:
        read_study_file(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)) and culprit in message, message


def test_categories_splits_and_prompt_kinds(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("Write down what the user prefers.")
    evolved = tmp_path / "evo"
    path = write(tmp_path, 'datasets = ["agentic", "GPQA_Diamond"]\nsplits = ["ood"]\n'
                           'prompts = ["simple", "mine.txt", {best_of = "evo"}]\n')
    study = read_study_file(path)
    assert [s.name for s in selected_datasets(study)] == ["GPQA_Diamond", "toolbench"]  # OOD only
    cells = build_cells(study, tmp_path / "out", tmp_path)
    assert [c.name for c in cells] == ["simple--GPQA_Diamond", "simple--toolbench", "mine--GPQA_Diamond",
                                       "mine--toolbench", "best-of-evo--GPQA_Diamond", "best-of-evo--toolbench"]
    assert cells[2].prompt_arg == str(tmp_path / "mine.txt")
    assert cells[4].prompt_arg == str(evolved / "best_prompt.txt")
    argv = cell_command(cells[0], tmp_path / "out/cells/x", limit=3, resume=True)
    assert argv == ["eval", "--prompt", "simple", "--datasets", "GPQA_Diamond", "--split", "ood", "--limit", "3",
                    "--out", str(tmp_path / "out/cells/x"), "--resume"]


def test_optimizer_cells_train_on_the_id_sets_and_evaluate_best_everywhere(tmp_path: Path) -> None:
    path = write(tmp_path, 'datasets = ["GameOf24", "GPQA_Diamond"]\nprompts = ["simple"]\nrepeats = 2\n'
                           '[[optimizers]]\nmethod = "gepa"\nseeds = [1, 2]\nbudget_rollouts = 50\n'
                           'settings = {gepa_minibatch = 3}\n')
    cells = build_cells(read_study_file(path), tmp_path / "out", tmp_path)
    evolve = [c for c in cells if c.kind == "evolve"]
    assert [c.name for c in evolve] == ["gepa-s1", "gepa-s2"]
    argv = cell_command(evolve[0], tmp_path / "run", limit=None, resume=False)
    assert argv[:9] == ["evolve", "--method", "gepa", "--seed-prompt", "simple", "--datasets", "GameOf24",
                        "--seed", "1"]
    assert "--budget-rollouts" in argv and "--gepa-minibatch" in argv
    follow = [c for c in cells if c.after == "gepa-s1"]
    assert [(c.name, c.split) for c in follow] == [("gepa-s1--GameOf24", "test"), ("gepa-s1--GPQA_Diamond", "ood")]
    assert follow[0].prompt_arg == str(tmp_path / "out/cells/gepa-s1/best_prompt.txt")
    assert cell_command(follow[0], tmp_path / "r", limit=None, resume=False)[-4:-2] == ["--repeats", "2"]


def test_shipped_study_files_are_valid(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    paper = read_study_file(docs / "study.paper.toml")
    cells = build_cells(paper, tmp_path, docs)
    # 7 static prompts + no-memory on 18 datasets; 4 optimizers x 3 seeds, each one evolve + 18 evaluations
    assert len(cells) == 8 * 18 + 4 * 3 * (1 + 18)
    example = tmp_path / "study.toml"
    example.write_text((docs / "study.example.toml").read_text())
    (tmp_path / "my_prompt.txt").write_text("Keep what the user prefers.")
    study = read_study_file(example)
    assert [e.url for e in study.endpoints] == ["http://gpu1:8000/v1", "http://gpu2:8000/v1"]
    assert study.optimizers[0].settings == {"batch": 35}
