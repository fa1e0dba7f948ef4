"""Issue 11, tried as a skeptical user would: every failure is one line naming the culprit, exit non-zero,
no traceback; failures are not scores; one writer per run dir; inputs checked before any model call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, free_port
from typer.testing import CliRunner

from clue.cli import app

SCRIPTED = ["--backend", "scripted", "--no-cache"]
EVAL = ["eval", "--prompt", "simple", "--datasets", "membench-high", "--split", "train", "--limit", "3",
        "--repeats", "1"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output, output
    return lines[0]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def test_not_runnable_dataset_is_refused_before_any_call(tmp_path: Path) -> None:
    empty_env_root = tmp_path / "env"
    empty_env_root.mkdir()
    code, output = run(*SCRIPTED, "evolve", "--datasets", "pddl", "--env-root", str(empty_env_root),
                       "--out", str(tmp_path / "evo"))
    assert code != 0
    line = one_error_line(output)
    assert "--datasets pddl: cannot run here" in line and str(empty_env_root) in line
    assert not (tmp_path / "evo").exists(), "nothing is written for a refused run"


@pytest.mark.parametrize(("args", "culprit"), [
    (["--repeats", "-2"], "--repeats"),
    (["--limit", "0"], "--limit"),
])
def test_eval_counts_must_be_positive(tmp_path: Path, args: list[str], culprit: str) -> None:
    out = tmp_path / "run"
    code, output = run(*SCRIPTED, "eval", "--datasets", "membench-high", "--out", str(out), *args)
    assert code == 2 and culprit in output and "Traceback" not in output
    assert not out.exists()


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--batch", "0"], ["--candidates", "-1"],
                                  ["--top", "5", "--candidates", "1"]])
def test_evolve_counts_are_checked_before_any_model_call(tmp_path: Path, args: list[str]) -> None:
    code, output = run(*SCRIPTED, "evolve", "--datasets", "membench-high", "--out", str(tmp_path / "e"), *args)
    assert code == 2 and args[0] in output and "Traceback" not in output
    assert not (tmp_path / "e").exists()


def test_out_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    for out in (target, target / "sub"):
        code, output = run(*SCRIPTED, *EVAL, "--out", str(out))
        assert code == 2
        assert "is a file, not a directory" in one_error_line(output)


def test_closed_port_says_refused_fast(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.perf_counter()
    code, output = run("--backend", "openai", "--base-url", url, "--no-cache", *EVAL, "--out", str(tmp_path / "r"))
    assert time.perf_counter() - started < 20
    assert code != 0
    line = one_error_line(output)
    assert "connection refused" in line and url in line


def test_garbage_endpoint_fails_the_run_then_resume_retries(tmp_path: Path, fake: FakeOpenAI) -> None:
    out = tmp_path / "run"
    base = ["--backend", "openai", "--base-url", fake.base_url, "--model", "fake", "--no-cache"]
    fake.responder = lambda body: (200, "<html><body>Bad gateway</body></html>")
    code, output = run(*base, *EVAL, "--out", str(out))
    assert code == 4, output  # a reply that is not a completion: the endpoint is wrong, not busy
    line = one_error_line(output)
    assert "3/3 rollouts failed for infrastructure reasons" in line and "<html>" in line and fake.base_url in line
    lines = [json.loads(x) for x in (out / "rollouts.jsonl").read_text().splitlines()]
    assert all(r["infra_failure"] and fake.base_url in r["error"] and "<html>" in r["error"] for r in lines)

    def answer(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        return 200, chat_reply("1. the user likes tea\n<answer>A</answer>")

    fake.responder = answer
    code, output = run(*base, *EVAL, "--out", str(out), "--resume")
    assert code == 0, output
    results = json.loads((out / "log.json").read_text())["results"]
    assert results["failed"] == 0 and results["rollouts"] == 3


def test_rescore_refuses_another_datasets_file(data_root: Path) -> None:
    aime = data_root / "data_collection/train/AIME_2024/openai/Qwen3-32B/zero-shot/target_output.jsonl"
    code, output = run("rescore", "--dataset", "GameOf24", "--outputs", str(aime))
    assert code == 2
    line = one_error_line(output)
    assert str(aime) in line and "GameOf24 tasks" in line


def test_global_options_work_after_the_command(tmp_path: Path) -> None:
    code, output = run("eval", "--backend", "scripted", "--no-cache", "--prompt", "simple",
                       "--datasets", "membench-high", "--split", "train", "--limit", "2", "--repeats", "1",
                       "--model", "anything", "--out", str(tmp_path / "run"))
    assert code == 0, output
    assert (tmp_path / "run" / "rollouts.jsonl").is_file()


def test_extract_output_is_not_wrapped_when_piped(tmp_path: Path) -> None:
    long_line = "1. " + "the user keeps a very long note about tea and mountains " * 6
    conversation = tmp_path / "chat.json"
    conversation.write_text(json.dumps([{"role": "user", "content": "hi"}]))
    config = tmp_path / "clue.toml"
    config.write_text('[llm]\nbackend = "scripted"\n')
    env = {**os.environ, "COLUMNS": "80"}
    script = (f"from clue.llm.backends import scripted; scripted._default_responder = lambda call: {long_line!r}; "
              "from clue.cli import app; app()")
    done = subprocess.run([sys.executable, "-c", script, "--config", str(config), "--no-cache", "extract",
                           "--conversation", str(conversation)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == long_line.strip() + "\n"  # one line, exactly the memory


def _slow_eval(out: Path) -> subprocess.Popen[str]:
    script = ("from clue.llm.backends import scripted; import time\n"
              "orig = scripted.ScriptedBackend.__init__\n"
              "def slow(self, *a, **k):\n    orig(self, *a, **k); self.latency_s = 0.3\n"
              "scripted.ScriptedBackend.__init__ = slow\n"
              "from clue.cli import app; app()")
    return subprocess.Popen([sys.executable, "-c", script, *SCRIPTED, "eval", "--prompt", "simple",
                             "--datasets", "membench-high", "--split", "train", "--repeats", "1",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_behaves_like_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _slow_eval(out)
    deadline = time.monotonic() + 60
    while not (out / "rollouts.jsonl").exists() or not (out / "rollouts.jsonl").read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted; finished rollouts are saved, continue with --resume" in stderr
    assert "Traceback" not in stderr


def test_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = _slow_eval(out)
    deadline = time.monotonic() + 60
    while not (out / ".lock").exists() or not (out / ".lock").read_text().strip():
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    try:
        code, output = run(*SCRIPTED, "eval", "--prompt", "simple", "--datasets", "membench-high",
                           "--split", "train", "--repeats", "1", "--out", str(out), "--resume")
        assert code == 2
        assert f"PID {first.pid}" in one_error_line(output)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_show_prints_results_without_touching_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, output = run(*SCRIPTED, *EVAL, "--out", str(out))
    assert code == 0, output
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, output = run("show", str(out))
    assert code == 0, output
    assert "membench-high" in output and "scripted" in output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_show_on_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    code, output = run("show", str(tmp_path))
    assert code == 3 and "no run log" in one_error_line(output)
