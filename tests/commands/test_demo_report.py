"""`clue demo` ends by writing the report of what it ran (scripted backend: plumbing, not model quality)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from clue.bench.run.rollouts import read_rollouts
from clue.cli import app


def test_demo_writes_its_report_and_prints_the_path(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = out / "report.html"
    assert f"report: {report}" in result.output.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    table = html[html.index('id="comparison-table"'):html.index("</table>", html.index('id="comparison-table"'))]
    assert re.findall(r"<tr><th>(.*?)</th>", table)[1:] == ["no-memory", "simple", "factual-experiential"]
    ran = sum(len(read_rollouts(out / name / "rollouts.jsonl")) for name in ("no-memory", "simple",
                                                                           "factual-experiential"))
    assert f"{ran} rollouts." in html
