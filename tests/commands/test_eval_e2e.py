"""End to end on real BEHEMOTH pairs with the real SmolLM2 model: in-process, and over llama.cpp's server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.cli import app
from clue.llm.backends.llama_runtime import openmp_environment
from clue.llm.weights import ensure_model

pytestmark = pytest.mark.model
# Single-turn only on this branch: the problem-solving sets run the code_rounds solver, wired in at merge.
DATASETS = "membench-high"
SMALL_DECODING = ["--role", "extractor.max_tokens=64", "--role", "solver.max_tokens=64",
                  "--role", "judge.max_tokens=16"]


def assert_complete_run_dir(out: Path, *, expected_rollouts: int, datasets: set[str]) -> list[dict[str, object]]:
    for name in ("log.json", "prompt.txt", "rollouts.jsonl", "usage.jsonl"):
        assert (out / name).is_file(), f"{name} missing from the run dir"
    rollouts = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines() if line.strip()]
    assert len(rollouts) == expected_rollouts
    assert {r["dataset"] for r in rollouts} == datasets
    for rollout in rollouts:
        assert rollout["reward"] in (0.0, 1.0)
        assert rollout["error"] is None, rollout["error"]
        assert rollout["solver_output"], "the solver must have answered"
        assert rollout["extract_prompt_tokens"] > 0 and rollout["solve_prompt_tokens"] > 0
    log = json.loads((out / "log.json").read_text())
    results, usage = log["results"], log["usage"]
    assert {d["dataset"] for d in results["datasets"]} == datasets
    assert usage["extractor"]["calls"] >= 2 and usage["solver"]["calls"] >= 2
    assert log["version"] == 2 and log["status"] == "finished"
    assert log["samples"]["count"] == expected_rollouts and log["results"]["datasets"]
    for rollout in rollouts:
        kinds = [event["kind"] for event in rollout["events"]]
        assert kinds[:2] == ["llm", "llm"] and kinds[-1] == "score", kinds
    return rollouts



def _eval_args(out: Path) -> list[str]:
    return ["eval", "--prompt", "simple", "--datasets", DATASETS, "--split", "train", "--limit", "4",
            "--repeats", "1", "--out", str(out)]


def test_eval_with_the_local_backend_on_real_pairs(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["--backend", "local", "--model", "smollm2-135m", "--no-cache", "--data-root", str(data_root),
              *SMALL_DECODING, *_eval_args(out)])
    assert result.exit_code == 0, result.output
    rollouts = assert_complete_run_dir(out, expected_rollouts=4, datasets={"membench-high"})
    assert all(r["memory"] for r in rollouts), "the extractor must have written memory"
    # A resumed run over a finished dir does no new work.
    again = CliRunner().invoke(
        app, ["--backend", "local", "--model", "smollm2-135m", "--no-cache", "--data-root", str(data_root),
              *SMALL_DECODING, *_eval_args(out), "--resume"])
    assert again.exit_code == 0, again.output
    assert len((out / "rollouts.jsonl").read_text().splitlines()) == 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def llama_server(tmp_path: Path) -> str:
    port = _free_port()
    model = ensure_model("smollm2-135m")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", str(os.cpu_count() or 1),
         "--model_alias", "smollm2",
         # By default this server cuts a streamed reply short when another request arrives; clue then asks it
         # for whole replies, but only after the cut ones were computed for nothing.
         "--interrupt_requests", "False"], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, **openmp_environment()})  # llama.cpp threads otherwise spin on a busy machine
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama.cpp server did not start: {(tmp_path / 'server.log').read_text()}"
                                       ) from None
                time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_eval_with_the_openai_backend_against_llama_cpp_server(tmp_path: Path, data_root: Path,
                                                               llama_server: str) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["--backend", "openai", "--base-url", llama_server, "--model", "smollm2", "--no-cache",
              "--data-root", str(data_root), *SMALL_DECODING, "--role", "extractor.context_size=4096",
              "--role", "solver.context_size=4096", *_eval_args(out)])
    assert result.exit_code == 0, result.output
    assert_complete_run_dir(out, expected_rollouts=4, datasets={"membench-high"})


def test_eval_reports_a_down_endpoint_in_one_line(tmp_path: Path, data_root: Path) -> None:
    result = CliRunner().invoke(
        app, ["--backend", "openai", "--base-url", f"http://127.0.0.1:{_free_port()}/v1", "--model", "m",
              "--no-cache", "--data-root", str(data_root), "--role", "extractor.retries=1",
              "--role", "solver.retries=1", *_eval_args(tmp_path / "run")])
    assert result.exit_code == 5  # TransientError: may pass when retried later
    assert "connection refused" in result.output and "127.0.0.1" in result.output
