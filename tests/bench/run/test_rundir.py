"""Run directories: checked before work starts, and one writer at a time (an OS-level lock)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clue.bench.run.rundir import RunDirBusy, ensure_run_dir, run_dir_lock
from clue.errors import BadInputError


def test_out_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("x")
    with pytest.raises(BadInputError, match=r"--out .*results.txt: is a file, not a directory"):
        ensure_run_dir(target)


def test_out_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInputError, match=r"--out .*f/sub: .*f is a file, not a directory"):
        ensure_run_dir(tmp_path / "f" / "sub")


def test_out_that_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(BadInputError, match="permission denied"):
        ensure_run_dir(tmp_path / "new")


def test_out_that_is_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", denied)
    with pytest.raises(BadInputError, match=r"not writable \(permission denied"):
        ensure_run_dir(tmp_path)


def test_good_out_is_created(tmp_path: Path) -> None:
    assert ensure_run_dir(tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from clue.bench.run.rundir import run_dir_lock
            with run_dir_lock(Path({str(tmp_path)!r})):
                print("locked", flush=True)
                sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirBusy, match=rf"in use by another clue process \(PID {holder.pid}\)"), \
                run_dir_lock(tmp_path):
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    with run_dir_lock(tmp_path):  # released when its holder ends
        assert (tmp_path / ".lock").read_text().strip() == str(__import__("os").getpid())
