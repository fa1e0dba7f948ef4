"""The sandbox against hostile code: each attempt ends as a failed run within its limits, leaving nothing behind.

Limits are generous enough for a loaded 2-core machine; the hostile programs hit them in a few seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from clue.bench.sandbox import isolation as sandbox_module
from clue.bench.sandbox.isolation import GiB, Isolation, Sandbox, SandboxLimits, SandboxUnavailableError

pytestmark = pytest.mark.skipif(not sandbox_module.detect_isolation().available,
                                reason="no sandbox isolation on this machine")

LIMITS = SandboxLimits(wall_seconds=30, cpu_seconds=3, memory_bytes=2 * GiB, processes=16,
                       output_bytes=64 * 1024)


def _sandbox_processes() -> set[int]:
    """Processes running a sandboxed script (our interpreter on main.py)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 2 and argv[1] == b"main.py":
            found.add(int(pid))
    return found


def _leftovers() -> tuple[set[str], set[str]]:
    temp = {p.name for p in Path(tempfile.gettempdir()).glob("clue-sandbox-*")}
    isolation = sandbox_module.detect_isolation()
    cgroups = {p.name for p in isolation.pids_cgroup.glob("clue-sandbox-*")} if isolation.pids_cgroup else set()
    return temp, cgroups


@pytest.fixture
def clean() -> Iterator[None]:
    before_processes, before = _sandbox_processes(), _leftovers()
    yield
    assert _sandbox_processes() <= before_processes, "a sandboxed process outlived its run"
    assert _leftovers() == before, "a working directory or cgroup was left behind"


async def test_runs_code_with_files_and_reports_output(clean: None) -> None:
    result = await Sandbox(LIMITS).run_python("import sys\nprint(open('data.txt').read().upper())\n"
                                              "print('warn', file=sys.stderr)", files={"data.txt": "hello"})
    assert result.ok and result.stdout == "HELLO\n" and result.stderr == "warn\n"
    event = result.to_event("code")
    assert event.exit_code == 0 and event.limit is None and event.code == "code"


async def test_connect_to_a_loopback_listener_never_arrives(clean: None) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=5)\nprint('connected')"
        result = await Sandbox(LIMITS).run_python(code)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert not result.ok and "connected" not in result.stdout
    assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr


async def test_write_outside_the_working_directory_fails(clean: None, tmp_path: Path) -> None:
    outside_tmp = tmp_path / "escaped.txt"
    home_dir = Path(tempfile.mkdtemp(dir=Path.home(), prefix=".clue-sandbox-test-"))
    try:
        for target in (outside_tmp, home_dir / "escaped.txt"):
            result = await Sandbox(LIMITS).run_python(f"open({str(target)!r}, 'w').write('x')")
            assert not result.ok and "Error" in result.stderr
            assert not target.exists()
    finally:
        shutil.rmtree(home_dir)


async def test_infinite_loop_ends_on_the_cpu_limit(clean: None) -> None:
    result = await Sandbox(LIMITS).run_python("while True:\n    pass", limits=replace(LIMITS, cpu_seconds=1))
    assert not result.ok and result.limit == "time" and not result.timed_out  # the CPU limit, not the wall clock
    assert result.seconds < LIMITS.wall_seconds


async def test_sleeping_process_tree_is_killed_at_the_wall_clock_limit(clean: None) -> None:
    code = "import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)"
    result = await Sandbox(LIMITS).run_python(code, limits=SandboxLimits(wall_seconds=2))
    assert result.timed_out and result.limit == "time" and result.exit_code is None
    assert result.seconds < 10


async def test_fork_loop_ends_on_the_process_limit(clean: None) -> None:
    result = await Sandbox(LIMITS).run_python("import os\nwhile True:\n    os.fork()")
    assert not result.ok and result.limit in {"processes", "time"}
    assert result.seconds < LIMITS.wall_seconds


async def test_ten_gigabyte_allocation_ends_on_the_memory_limit(clean: None) -> None:
    result = await Sandbox(LIMITS).run_python("block = bytearray(10 * 1024**3)\nprint(len(block))")
    assert not result.ok and result.limit == "memory" and "MemoryError" in result.stderr


async def test_output_is_capped(clean: None) -> None:
    result = await Sandbox(LIMITS).run_python("while True:\n    print('x' * 1000)")
    assert result.limit == "output" and len(result.stdout) == LIMITS.output_bytes


async def test_big_file_ends_on_the_file_size_limit(clean: None) -> None:
    limits = SandboxLimits(file_size_bytes=1024 * 1024)
    result = await Sandbox(limits).run_python("open('big', 'wb').write(b'x' * (8 * 1024 * 1024))")
    assert not result.ok and result.limit == "file size"


async def test_without_isolation_code_is_refused_unless_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "detect_isolation",
                        lambda: Isolation(False, None, None, "bubblewrap (bwrap) is not installed"))
    with pytest.raises(SandboxUnavailableError) as refused:
        await Sandbox(LIMITS).run_python("print('ran')")
    assert "bwrap" in str(refused.value) and "--unsafe-code" in str(refused.value)
    assert "\n" not in str(refused.value)
    monkeypatch.setitem(sandbox_module._UNSAFE, "allowed", True)
    result = await Sandbox(LIMITS).run_python("print('ran')")
    assert result.ok and result.stdout == "ran\n"


async def test_the_home_directory_is_hidden(clean: None) -> None:
    secret = Path(tempfile.mkdtemp(dir=Path.home(), prefix=".clue-sandbox-test-")) / "token.txt"
    secret.write_text("s3cret")
    try:
        result = await Sandbox(LIMITS).run_python(f"print(open({str(secret)!r}).read())")
        assert not result.ok and "s3cret" not in result.stdout and "FileNotFoundError" in result.stderr
    finally:
        shutil.rmtree(secret.parent)
