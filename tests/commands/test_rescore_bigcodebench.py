"""`clue rescore --dataset bigcodebench`: real tasks with their canonical solutions pass; hostile solutions
(network, escape, fork, memory, loop) fail safely and quickly, leaving nothing behind."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.bench.sandbox import isolation as sandbox_module
from clue.bench.sandbox.bigcodebench import default_env_root, load_tasks
from clue.cli import app

pytestmark = pytest.mark.skipif(not sandbox_module.detect_isolation().available,
                                reason="no sandbox isolation on this machine")

CANONICAL = ("BigCodeBench/1",)
HOSTILE_TASK = "BigCodeBench/1"  # task_func(length=100) -> dict of letter counts


def _hostile(port: int, escape_dir: Path) -> dict[str, str]:
    body = {
        "network": f"import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)",
        "escape": f"open({str(escape_dir / 'escaped.txt')!r}, 'w').write('x')",
        "fork": "import os\n    while True:\n        os.fork()",
        "memory": "block = bytearray(10 * 1024**3)\n    block[::4096] = b'x' * len(block[::4096])",
        "loop": "while True:\n        pass",
    }
    return {name: f"import collections\nimport random\nimport string\ndef task_func(length=100):\n    {code}\n"
                  "    return collections.Counter()\n"
            for name, code in body.items()}


def test_canonical_solutions_pass_and_hostile_ones_fail_safely(tmp_path: Path) -> None:
    tasks = load_tasks(default_env_root())
    escape_dir = Path(tempfile.mkdtemp(dir=Path.home(), prefix=".clue-bcb-test-"))
    leftovers_before = set(Path(tempfile.gettempdir()).glob("clue-sandbox-*"))
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.setblocking(False)
            lines = [{"task_id": task_id, "solution": tasks[task_id].canonical_code} for task_id in CANONICAL]
            hostile = _hostile(listener.getsockname()[1], escape_dir)
            # The two that run until a limit go first, so the others share the remaining slots meanwhile.
            lines = [{"task_id": HOSTILE_TASK, "solution": hostile[name]} for name in ("loop", "fork")] + lines
            lines += [{"task_id": HOSTILE_TASK, "solution": hostile[name]} for name in ("network", "escape", "memory")]
            outputs = tmp_path / "solutions.jsonl"
            outputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
            started = time.monotonic()
            result = CliRunner().invoke(app, ["rescore", "--dataset", "bigcodebench", "--outputs", str(outputs),
                                              "--timeout", "15", "--jobs", "4", "--show", "10"])
            elapsed = time.monotonic() - started
            with pytest.raises(BlockingIOError):
                listener.accept()  # the network attempt never arrived
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1] == f"passed: {len(CANONICAL)}/{len(lines)}"
        failed = [line for line in result.output.splitlines() if line.startswith("line ")]
        assert len(failed) == len(hostile)
        assert not (escape_dir / "escaped.txt").exists()
        assert elapsed < 90  # the loop and the fork loop end on the 15 s limits, the others sooner
        assert set(Path(tempfile.gettempdir()).glob("clue-sandbox-*")) == leftovers_before
    finally:
        shutil.rmtree(escape_dir)


def test_a_bad_line_is_named_before_anything_runs(tmp_path: Path) -> None:
    outputs = tmp_path / "solutions.jsonl"
    outputs.write_text('{"task_id": "BigCodeBench/1", "solution": "x = 1"}\n{"task_id": "BigCodeBench/99999", '
                       '"solution": "x = 1"}\n')
    result = CliRunner().invoke(app, ["rescore", "--dataset", "bigcodebench", "--outputs", str(outputs)])
    assert result.exit_code == 2
    assert "solutions.jsonl:2: unknown task_id 'BigCodeBench/99999'" in result.output
    assert "passed:" not in result.output


def test_without_a_sandbox_it_refuses_in_one_line_unless_unsafe(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "detect_isolation",
                        lambda: sandbox_module.Isolation(False, None, None, "bubblewrap (bwrap) is not installed"))
    monkeypatch.setitem(sandbox_module._UNSAFE, "allowed", False)  # restored after the test
    task = load_tasks(default_env_root())["BigCodeBench/1"]
    outputs = tmp_path / "solutions.jsonl"
    outputs.write_text(json.dumps({"task_id": task.task_id, "solution": task.canonical_code}) + "\n")
    args = ["rescore", "--dataset", "bigcodebench", "--outputs", str(outputs)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 3  # a missing resource (isolation), like a missing environment
    assert refused.output.strip().count("\n") == 0 and "--unsafe-code" in refused.output
    allowed = CliRunner().invoke(app, [*args, "--unsafe-code"])
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.splitlines()[-1] == "passed: 1/1"
