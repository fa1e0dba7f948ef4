"""`clue datasets`: runnable follows the data files and the resources under the env root; the table fits
80 columns; `--settings` shows each entry's solver settings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clue.bench.data.datasets import DATASETS
from clue.cli import app


def datasets_output(*args: str, env: dict[str, str] | None = None) -> list[str]:
    result = CliRunner().invoke(app, [*args], env={"COLUMNS": "80", **(env or {})})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def row(lines: list[str], name: str) -> list[str]:
    found = [line for line in lines if line.startswith(f"│ {name} ")]
    assert len(found) == 1, f"no whole row for {name}"
    return [cell.strip() for cell in found[0].strip("│").split("│")]


def test_table_fits_80_columns_and_says_what_is_missing(tmp_path: Path) -> None:
    lines = datasets_output("datasets", "--env-root", str(tmp_path))
    heading = next(line for line in lines if line.startswith("what is missing (data root "))
    assert heading.endswith(f"env root {tmp_path}):")
    table = lines[: lines.index(heading)]
    assert all(len(line) <= 80 for line in table)
    for spec in DATASETS:
        assert row(table, spec.name)[0] == spec.name  # never cut
    assert row(table, "fever")[1:] == ["agentic", "ID", "no"]
    assert row(table, "toolbench")[1:] == ["agentic", "OOD", "no"]
    assert row(table, "GameOf24")[3] == "yes"
    missing = lines[len(table) + 1:]
    assert any(line.startswith("- fever needs a Wikipedia page source") for line in missing)
    assert any(line.startswith("- toolbench: no data file ") for line in missing)  # no released sources
    assert any(line.startswith("- bigcodebench: ") for line in missing)
    for name in ("membench-low", "personamem-v2", "prefeval", "MMLU_Pro_Physics", "MMLU_Pro_Engineering"):
        assert row(table, name)[3] == "no"  # their source files are not in the release
        assert any(line.startswith(f"- {name}: no data file ") for line in missing), name


def test_resources_under_the_env_root_make_sets_runnable(tmp_path: Path) -> None:
    pages = tmp_path / "fever" / "wiki-pages"
    pages.mkdir(parents=True)
    (pages / "p.jsonl").write_text(json.dumps({"title": "A", "text": "a"}) + "\n")
    (tmp_path / "toolbench" / "tool_response_cache" / "Data").mkdir(parents=True)
    for lines in (datasets_output("datasets", "--env-root", str(tmp_path)),
                  datasets_output("--env-root", str(tmp_path), "datasets"),
                  datasets_output("datasets", env={"CLUE_ENV_ROOT": str(tmp_path)})):
        assert row(lines, "fever")[3] == "yes" and row(lines, "toolbench")[3] == "no"
        assert not any(line.startswith(("- fever", "- toolbench needs")) for line in lines)
        assert any(line.startswith("- toolbench: no data file ") for line in lines)


def test_settings_show_each_entry() -> None:
    lines = datasets_output("datasets", "--settings", env={"COLUMNS": "200"})
    assert row(lines, "AIME")[1:4] == ["code_rounds", "user", "2048"]
    assert row(lines, "alfworld")[1:8] == ["episode", "system", "512", "'\\n'", "0", "20", "3"]
    assert row(lines, "babyai")[5] == "1" and row(lines, "prefeval")[3] == "128"
    assert row(lines, "longmemeval")[7] == "1" and row(lines, "GPQA_Diamond")[7] == "3, max 3"
