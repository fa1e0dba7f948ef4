"""The run record through the commands: one writer, a refused command changes nothing on disk, `clue show`
reads every kind of run, and an evolve run on an OpenAI-compatible endpoint survives kill -9 and resumes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, chat_reply
from typer.testing import CliRunner

from clue.bench.run.record import read_runlog
from clue.bench.run.rollouts import read_rollouts
from clue.cli import app

SCRIPTED = ["--backend", "scripted", "--no-cache"]
# The optimizer asks for JSON by schema, so the fake endpoint knows which step it answers.
SCHEMA = ["--role", "optimizer.json_mode=json_object_schema"]
# A small round that keeps the optimizer's JSON steps simple: the logs in context, section edits.
SIMPLE_STEPS = ["--analysis-mode", "context", "--synthesis-mode", "edits"]
EVAL = ["eval", "--prompt", "simple", "--datasets", "membench-high", "--split", "train", "--limit", "3",
        "--repeats", "1"]
EVOLVE = ["evolve", "--datasets", "membench-high", "--rounds", "1", "--batch", "2", "--candidates", "1",
          "--test-limit", "1", *SIMPLE_STEPS]


def sensible(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An endpoint that answers every role usably: a memory or an answer in text, and the optimizer's JSON
    steps (summary, clusters, analysis in context mode, section edits) by the schema asked for."""
    fmt = body.get("response_format") or {}
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema") or {}
    props = set(schema.get("properties", {}))
    if "summary" in props:
        reply: object = {"summary": "The user states a preference and asks about it later."}
    elif "clusters" in props:
        reply = {"clusters": [{"id": "new", "label": "preferences", "description": "stated preferences",
                               "members": ["e01", "e02"]}]}
    elif "success_analysis" in props:
        reply = {"success_analysis": "kept preferences helped", "failure_analysis": "details were dropped",
                 "recommendations": ["Keep every stated preference.", "Keep names exactly.",
                                     "Skip small talk."], "risks": ""}
    elif "edits" in props:
        reply = {"rationale": "keep preferences", "edits": [{"section": "## Guidelines", "operation": "append",
                                                            "text": "- Keep every stated preference exactly."}]}
    else:
        return 200, chat_reply("1. the user likes tea\n<answer>A</answer>", model=body["model"])
    return 200, chat_reply(json.dumps(reply), model=body["model"])


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output, output
    return lines[0]


def checksums(run_dir: Path) -> dict[str, str]:
    """Every file under the run dir (the lock file included) and its content hash."""
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[list[str]]:
    """The global flags of an OpenAI-compatible endpoint that answers every role usably."""
    server = FakeOpenAI(responder=sensible)
    yield ["--backend", "openai", "--base-url", server.base_url, "--model", "fake", "--no-cache", *SCHEMA]
    server.close()


@pytest.fixture(scope="module")
def evolve_run(tmp_path_factory: pytest.TempPathFactory, endpoint: list[str]) -> Path:
    out = tmp_path_factory.mktemp("evolve") / "run"
    code, output = run(*endpoint, *EVOLVE, "--out", str(out))
    assert code == 0, output
    return out


def test_an_evolve_run_holds_only_the_recorders_files(evolve_run: Path) -> None:
    names = {p.name for p in evolve_run.iterdir()}
    assert names == {".lock", "log.json", "rollouts.jsonl", "test_rollouts.jsonl", "usage.jsonl",
                     "best_prompt.txt", "state.json", "lineage.json"}
    log = read_runlog(evolve_run)
    assert log.version == 2 and log.status == "finished" and log.results is None
    assert log.evolution is not None and log.evolution.seed_results and log.evolution.best_results
    assert log.evolution.best_hash and [p.round for p in log.evolution.progress] == [1]


def test_show_reads_an_evolve_run(evolve_run: Path) -> None:
    before = checksums(evolve_run)
    code, output = run("show", str(evolve_run))
    assert code == 0, output
    assert "Traceback" not in output and "evolve run: finished" in output
    assert "seed vs evolved on the test split" in output and "best after round 1" in output
    assert checksums(evolve_run) == before


def _with(args: list[str], flag: str, value: str) -> list[str]:
    """`args` with `flag` set to `value` (replaced where present, else added)."""
    out = list(args)
    if flag in out:
        out[out.index(flag) + 1] = value
    else:
        out += [flag, value]
    return out


@pytest.mark.parametrize(("global_flags", "flag", "value", "culprit"), [
    ([], "--method", "gepa", "--method ('clue' there, 'gepa' now)"),
    ([], "--seed-prompt", "factual-experiential", "prompt ('simple' there, 'factual-experiential' now)"),
    ([], "--test-limit", "2", "--limit (1 there, 2 now)"),
    (["--role", "solver.temperature=0.2"], None, None, "solver.temperature (0.7 there, 0.2 now)"),
])
def test_a_refused_evolve_resume_changes_nothing_on_disk(evolve_run: Path, endpoint: list[str],
                                                         global_flags: list[str], flag: str | None,
                                                         value: str | None, culprit: str) -> None:
    before = checksums(evolve_run)
    args = _with(EVOLVE, flag, value) if flag is not None and value is not None else EVOLVE
    code, output = run(*endpoint, *global_flags, *args, "--out", str(evolve_run), "--resume")
    assert code == 2, output
    assert culprit in one_error_line(output)
    assert checksums(evolve_run) == before, "a refused command must leave the run dir byte for byte"


def test_an_evolve_run_without_resume_is_refused_and_untouched(evolve_run: Path, endpoint: list[str]) -> None:
    before = checksums(evolve_run)
    code, output = run(*endpoint, *EVOLVE, "--out", str(evolve_run))
    assert code == 2 and "already holds a run; pass --resume" in one_error_line(output)
    assert checksums(evolve_run) == before


@pytest.mark.parametrize(("change", "culprit"), [
    (["--limit", "2"], "--limit (3 there, 2 now)"),
    (["--repeats", "2"], "--repeats ({'membench-high': 1} there, {'membench-high': 2} now)"),
])
def test_an_eval_resume_with_another_scope_is_refused_and_untouched(tmp_path: Path, change: list[str],
                                                                    culprit: str) -> None:
    out = tmp_path / "run"
    code, output = run(*SCRIPTED, *EVAL, "--out", str(out))
    assert code == 0, output
    before = checksums(out)
    args = _with(EVAL, change[0], change[1])
    code, output = run(*SCRIPTED, *args, "--out", str(out), "--resume")
    assert code == 2, output
    assert culprit in one_error_line(output)
    assert checksums(out) == before


def test_an_eval_with_too_many_failures_is_shown_as_incomplete(tmp_path: Path, fake: FakeOpenAI) -> None:
    """Too many infrastructure failures: the command exits non-zero (4 here: the replies are not completions;
    6 when the cause is mixed) and the record says so, never `finished`."""
    out = tmp_path / "run"
    fake.responder = lambda body: (200, "<html><body>Bad gateway</body></html>")
    code, output = run("--backend", "openai", "--base-url", fake.base_url, "--model", "fake", "--no-cache",
                       *EVAL, "--out", str(out))
    assert code in (4, 5, 6), output
    log = read_runlog(out)
    assert log.status == "incomplete" and log.error and "3/3 rollouts failed" in log.error
    code, output = run("show", str(out))
    assert code == 0 and "eval run: incomplete" in output and "finished" not in output.split("\n")[0]


def _evolve_process(fake: FakeOpenAI, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from clue.cli import app; app()", "--backend", "openai", "--base-url",
               fake.base_url, "--model", "fake", "--no-cache", *SCHEMA, *EVOLVE, "--out", str(out), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_evolve_on_an_openai_endpoint_survives_kill_9_and_resumes(tmp_path: Path, fake: FakeOpenAI) -> None:
    out = tmp_path / "run"
    fake.responder = sensible
    fake.delay_s = 0.2
    proc = _evolve_process(fake, out)
    deadline = time.monotonic() + 120
    rollouts = out / "rollouts.jsonl"
    while not rollouts.exists() or not rollouts.read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert read_runlog(out).status == "running"  # killed: nothing could record the end
    kept = {r.rollout_id for r in read_rollouts(rollouts)}
    before = checksums(out)
    code, output = run("show", str(out))  # says the run is not live, and touches nothing
    assert code == 0 and "no process holds it (killed?): --resume continues it" in " ".join(output.split())
    assert checksums(out) == before

    fake.delay_s = 0.0
    code, output = run("--backend", "openai", "--base-url", fake.base_url, "--model", "fake", "--no-cache",
                       *SCHEMA, *EVOLVE, "--out", str(out), "--resume")
    assert code == 0, output
    log = read_runlog(out)
    assert log.status == "finished" and log.spec.roles["extractor"].backend == "openai"
    assert log.evolution is not None and log.evolution.best_results is not None
    ids = [r.rollout_id for r in read_rollouts(rollouts)]
    assert kept <= set(ids) and len(ids) == len(set(ids)), "no rollout redone, none lost"


def test_show_counts_what_an_evolution_left_out(tmp_path: Path) -> None:
    from clue.bench.run.record import EvolutionRecord, RoundProgress, RunLog, RunSpec, now, write_runlog

    progress = RoundProgress(round=1, rollouts_spent=20, tokens_spent=100, best_hash="h", best_name="simple",
                             left_out=2)
    write_runlog(tmp_path, RunLog(status="finished", started=now(), spec=RunSpec(
        clue_version="x", command="evolve", roles={}, method="gepa"),
        evolution=EvolutionRecord(method="gepa", progress=[progress])))
    code, output = run("show", str(tmp_path))
    assert code == 0, output
    assert "2 tournament/finals rollouts kept failing for infrastructure reasons" in output
