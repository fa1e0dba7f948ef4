from __future__ import annotations

import os
from pathlib import Path

import pytest

from clue.bench.data.datasets import NotRunnableError
from clue.bench.scorers.rescore import RescoreReport, format_agreement, rescore_file

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")
MIN_AGREEMENT = 0.98


def zero_shot(subset: str) -> Path:
    return DATA_ROOT / "data_collection/train" / subset / "openai/Qwen3-32B/zero-shot/target_output.jsonl"


@pytest.mark.parametrize(
    ("dataset", "subset", "lines"),
    [
        ("GameOf24", "GameOf24", 100),
        ("AIME", "AIME_2024", 30),
        ("AIME", "AIME_2025", 30),
        ("AIME", "AIME_2020_2024", 133),
        ("MathEquationBalancer", "MathEquationBalancer", 250),
    ],
)
def test_our_scorers_agree_with_the_reference_labels(dataset: str, subset: str, lines: int) -> None:
    warnings: list[str] = []
    report = rescore_file(dataset, zero_shot(subset), warnings.append)
    assert warnings == []
    assert report.total == lines
    assert report.agreement >= MIN_AGREEMENT, format_agreement(report) + f" {report.disagreements}"
    assert report.agreed + len(report.disagreements) == report.total


def test_known_disagreements_are_the_ones_we_judged() -> None:
    # Reviewed in docs/rescore_findings.md: the reference rejects "×" in equations and misses a
    # "FINAL ANSWER:" line without <answer> tags; both answers are correct.
    equations = rescore_file("MathEquationBalancer", zero_shot("MathEquationBalancer"), print)
    assert [(d.id, d.our_reward, d.their_label) for d in equations.disagreements] == [(58, 1.0, False),
                                                                                        (240, 1.0, False)]
    aime = rescore_file("AIME", zero_shot("AIME_2020_2024"), print)
    assert [(d.id, d.answer) for d in aime.disagreements] == [(71, "245")]


def test_format_agreement() -> None:
    report = RescoreReport(dataset="GameOf24", path=Path("x"), agreed=197, total=200)
    assert format_agreement(report) == "agreement: 0.985 (197/200)"
    assert format_agreement(RescoreReport(dataset="GameOf24", path=Path("x"))) == "agreement: 0.000 (0/0)"


def test_missing_file_warns_and_reports_nothing(tmp_path: Path) -> None:
    warnings: list[str] = []
    report = rescore_file("GameOf24", tmp_path / "target_output.jsonl", warnings.append)
    assert report.total == 0
    assert len(warnings) == 1 and "target_output.jsonl missing" in warnings[0]


def test_malformed_and_foreign_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "target_output.jsonl"
    path.write_text(
        '{"id": 1, "label": true, "task_main": "1 2 3 4", "input": "x", "target": "24",'
        ' "final_answer": "1 * 2 * 3 * 4"}\n'
        "{not json\n"
        '{"id": 3, "label": false, "task_main": "1 2 3 4"}\n',
        encoding="utf-8",
    )
    warnings: list[str] = []
    report = rescore_file("GameOf24", path, warnings.append)
    assert (report.agreed, report.total) == (1, 1)
    assert warnings[0].startswith(f"{path}:2: invalid JSON")
    assert "id 3" in warnings[1] and "skipped" in warnings[1]


def test_judge_scored_and_agentic_sets_cannot_be_rescored() -> None:
    with pytest.raises(NotRunnableError):
        rescore_file("longmemeval", Path("unused"), print)
    with pytest.raises(NotRunnableError, match="environment"):
        rescore_file("pddl", Path("unused"), print)
