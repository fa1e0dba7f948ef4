"""One study path on the real SmolLM2 model: a one-cell study (one dataset, one pair) runs and tabulates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.cli import app
from clue.llm.weights import ensure_model
from clue.study.reader import read_cell

pytestmark = pytest.mark.model


def test_one_cell_study_on_smollm2(tmp_path: Path, data_root: Path) -> None:
    ensure_model("smollm2-135m")
    study = tmp_path / "study.toml"
    study.write_text('datasets = ["membench-high"]\nsplits = ["test"]\nprompts = ["simple"]\nrepeats = 1\n'
                     'limit = 1\n[llm]\nbackend = "local"\nmodel = "smollm2-135m"\ncontext_size = 768\n'
                     '[llm.extractor]\nmax_tokens = 48\n[llm.solver]\nmax_tokens = 32\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--data-root", str(data_root), "study", "run", str(study), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "[1/1] simple--membench-high: finished" in result.output
    record = read_cell(out / "cells" / "simple--membench-high", with_rollouts=True)
    assert record.finished and record.results is not None and record.rollouts == {"membench-high": 1}
    assert record.role_totals["membench-high"]["extractor"][2] > 0, "the model wrote a memory"
    tables = CliRunner().invoke(app, ["study", "tables", str(out), "--format", "csv"])
    assert tables.exit_code == 0 and "simple," in tables.output
