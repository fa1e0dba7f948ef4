"""`clue study run` end to end on the fake OpenAI server: cells as ordinary run dirs, a shared response
cache, kill + resume (finished cells are not redone), refusals that change nothing, tables and report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_openai import FakeOpenAI, chat_reply

from clue.bench.data.loader import default_data_root
from clue.config import load_settings
from clue.memory.prompts import builtin_prompt_text
from clue.report.html import write_report
from clue.study.cells import build_cells
from clue.study.plan import make_plan
from clue.study.reader import read_cell
from clue.study.spec import read_study_file
from clue.study.tables import render, study_tables

CELLS = ["simple--membench-high", "simple--GameOf24", "again--membench-high", "again--GameOf24",
         "gepa-s7", "gepa-s7--membench-high", "gepa-s7--GameOf24"]
STUDY = """
name = "tiny"
datasets = ["membench-high", "GameOf24"]
splits = ["test"]
prompts = ["simple", "again.txt"]
repeats = 1
limit = 2

[llm]
backend = "openai"
model = "fake"
retries = 1

[[optimizers]]
method = "gepa"
seeds = [7]
budget_rollouts = 8
"""
# Every call gets this reply: a memory, an answer, and (for GEPA's reflection) a new prompt in fences.
REPLY = ("1. the user likes tea\n<answer>A</answer>\n```\nYou write memories: list what the user prefers and "
         "what worked, at most 5 numbered items.\n```")


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=lambda body: (200, chat_reply(REPLY)))
    yield server
    server.close()


def study_file(tmp_path: Path) -> Path:
    (tmp_path / "again.txt").write_text(builtin_prompt_text("simple"))  # the same text under another name
    path = tmp_path / "study.toml"
    path.write_text(STUDY)
    return path


def clue(*args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clue", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)  # type: ignore[call-overload]


def status(out: Path, cell: str) -> str:
    return read_cell(out / "cells" / cell).status


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def kill_after_two_cells(args: list[str], out: Path) -> None:
    study = clue(*args, start_new_session=True)
    deadline = time.monotonic() + 90
    while status(out, CELLS[1]) != "finished":
        assert study.poll() is None, study.communicate()[0]
        assert time.monotonic() < deadline, "the first two cells did not finish in time"
        time.sleep(0.2)
    os.killpg(study.pid, signal.SIGKILL)  # the study and the cell it was running, at once
    study.wait()


def test_study_runs_resumes_shares_the_cache_and_tabulates(tmp_path: Path, fake: FakeOpenAI) -> None:
    out = tmp_path / "out"
    args = ["--base-url", fake.base_url, "study", "run", str(study_file(tmp_path)), "--out", str(out)]
    kill_after_two_cells(args, out)
    assert [status(out, c) for c in CELLS[:2]] == ["finished", "finished"]
    assert status(out, CELLS[-1]) == "missing"
    kept = {c: (out / "cells" / c / "log.json").read_bytes() for c in CELLS[:2]}

    changed = tmp_path / "changed.toml"
    changed.write_text(STUDY.replace("limit = 2", "limit = 3"))
    before = snapshot(out)
    refused = clue(*args[:-3], str(changed), "--out", str(out), "--resume")
    output = refused.communicate(timeout=60)[0]
    assert refused.returncode == 2 and "study.limit differs" in output and len(output.strip().splitlines()) == 1
    assert snapshot(out) == before, "a refused command changes nothing on disk"

    resumed = clue(*args, "--resume", "--parallel", "3")  # the follow-ups still wait for their evolve run
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output
    lines = [line for line in output.splitlines() if line.startswith("[")]
    assert len(lines) == len(CELLS) and all("ETA" in line for line in lines), output
    assert sum("already finished, kept" in line for line in lines) == 2
    order = [line.split("] ", 1)[1].split(":")[0] for line in lines]
    assert order.index("gepa-s7") < min(order.index(c) for c in CELLS[5:]), order
    assert all(status(out, c) == "finished" for c in CELLS)
    assert all((out / "cells" / c / "log.json").read_bytes() == kept[c] for c in CELLS[:2]), "finished cells redone"

    # The same (prompt text, pair, repeat) under another prompt name is served from the study's one cache.
    for cell in ("again--membench-high", "again--GameOf24"):
        rollouts = [json.loads(x) for x in (out / "cells" / cell / "rollouts.jsonl").read_text().splitlines()]
        calls = [e for r in rollouts for e in r["events"] if e["kind"] == "llm"]
        assert len(rollouts) == 2 and calls and all(e["cached"] for e in calls), cell
    assert (out / "cache.sqlite").is_file()
    check_measured_plan(out, tmp_path)
    check_tables(out, tmp_path)


def check_measured_plan(out: Path, tmp_path: Path) -> None:
    """With --out, finished cells are costed by what they did: the fake answers 11 prompt + 3 completion tokens."""
    study = read_study_file(tmp_path / "study.toml")
    settings = load_settings(None, env={}, cli={"backend": "openai", "model": "fake"})
    plan = make_plan(study, build_cells(study, out, tmp_path), settings, default_data_root(), out, lambda _: None)
    cell = next(p for p in plan.cells if p.cell.name == "simple--membench-high")
    assert cell.basis == "finished" and cell.rollouts == 2
    for role in ("extractor", "solver"):
        assert (cell.roles[role].calls, cell.roles[role].prompt_tokens, cell.roles[role].completion_tokens) == \
            (2, 2 * 11, 2 * 3)
    evolve = next(p for p in plan.cells if p.cell.name == "gepa-s7")
    assert evolve.basis == "finished" and evolve.roles["extractor"].calls > 0


def check_tables(out: Path, tmp_path: Path) -> None:
    text = render(study_tables(out), "md")
    assert "| simple | 50.0 | 0.0 | 50.0 | 0.0 | 0.0% |" in text, text
    assert "| gepa | 8 rollouts | 1/1 |" in text
    partial = tmp_path / "partial"
    shutil.copytree(out, partial)
    (partial / "cells" / "again--GameOf24" / "log.json").unlink()
    text = render(study_tables(partial), "md")
    row = next(line for line in text.splitlines() if line.startswith("| again |"))
    assert row.split(" | ")[2] == "—" and "—: cell not finished" in text, text
    tex = render(study_tables(partial), "tex")
    assert "---" in tex and r"\begin{tabular}" in tex
    csv = render(study_tables(partial), "csv")
    assert "again,50.0,—," in csv
    report = write_report([out], tmp_path / "report.html")
    html = report.path.read_text()
    assert "Study tables" in html and "Optimizers at equal budget" in html and report.rollouts > 0


def test_failed_cells_are_reported_the_study_goes_on_and_resume_retries(tmp_path: Path, fake: FakeOpenAI) -> None:
    path = tmp_path / "study.toml"
    path.write_text('datasets = ["membench-high", "prefeval"]\nsplits = ["test"]\nprompts = ["simple"]\n'
                    'repeats = 1\nlimit = 2\n[llm]\nbackend = "openai"\nmodel = "fake"\nretries = 1\n')
    out = tmp_path / "out"
    args = ["--base-url", fake.base_url, "study", "run", str(path), "--out", str(out)]
    fake.responder = lambda body: (200, "<html>Bad gateway</html>")
    first = clue(*args)
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 6, output
    failed = next(line for line in output.splitlines() if line.startswith("[1/2] simple--membench-high: FAILED"))
    assert "error: 2/2 rollouts failed for infrastructure reasons" in failed, output
    # prefeval has no sources on disk here: its cell fails too, after the other one ran
    assert "[2/2] simple--prefeval: FAILED: exit " in output
    assert "2 of 2 cells did not finish (first: simple--membench-high" in output.splitlines()[-1]
    assert status(out, "simple--membench-high") == "unfinished"  # its log says finished, with failures
    fake.responder = lambda body: (200, chat_reply("1. the user likes tea\n<answer>A</answer>"))
    again = clue(*args, "--resume")
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 6 and "[1/2] simple--membench-high: finished" in output, output
    record = read_cell(out / "cells" / "simple--membench-high")
    assert record.finished and record.results is not None and record.results.failed == 0
    text = render(study_tables(out), "md")
    assert "| simple | 50.0 | — |" in text and "—: cell not finished" in text, text
