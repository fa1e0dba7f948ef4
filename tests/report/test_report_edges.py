"""`clue report` at its edges: a run served wholly from the cache, and an --out it cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.bench.run.record import read_runlog
from clue.cli import app

EVAL = ["--backend", "scripted", "eval", "--prompt", "simple", "--datasets", "membench-high", "--split", "train",
        "--limit", "2", "--repeats", "1"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def cached_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A second eval of the same pairs: every call of it comes from the cache, no role spends a token."""
    monkeypatch.setenv("CLUE_CACHE", str(tmp_path / "cache"))
    for name in ("first", "again"):
        code, output = invoke(*EVAL, "--out", str(tmp_path / name))
        assert code == 0, output
    usage = read_runlog(tmp_path / "again").usage
    assert sum(role["calls"] for role in usage.values()) > 0
    assert all(role["calls"] == role["cached_calls"] for role in usage.values())
    assert sum(role["prompt_tokens"] + role["completion_tokens"] for role in usage.values()) == 0
    return tmp_path / "again"


def test_a_run_served_wholly_from_the_cache_has_a_report(cached_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, output = invoke("report", str(cached_run), "--out", str(out))
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert 'id="cost"' in html and 'data-plot="cost"' not in html


def test_an_out_that_cannot_be_written_is_one_line_and_leaves_nothing(cached_run: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    before = sorted(path.name for path in tmp_path.iterdir())
    for out, says in ((tmp_path, "is a directory"), (a_file / "deeper" / "r.html", "cannot write the report"),
                      (Path("/proc/clue-report.html"), "cannot write the report")):
        code, output = invoke("report", str(cached_run), "--out", str(out))
        assert code == 2, output
        lines = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in output, output
        assert f"--out {out}" in lines[0] and says in lines[0], lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.tmp"))
