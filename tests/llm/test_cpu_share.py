"""Decode threads follow the cores other processes leave free; batches and replies are unaffected."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from clue.llm.backends.cpu_share import ThreadGovernor, other_runnable_tasks


def fake_proc(root: Path, procs_running: int, own_states: str) -> Path:
    (root / "stat").write_text(f"cpu  1 2 3 4\nctxt 99\nprocs_running {procs_running}\nprocs_blocked 0\n")
    for tid, state in enumerate(own_states, start=100):
        task = root / "self" / "task" / str(tid)
        task.mkdir(parents=True)
        # A thread name may hold spaces and parentheses; the state follows the last ')'.
        task.joinpath("stat").write_text(f"{tid} (llama (worker) 1) {state} 1 1 1 0 -1\n")
    return root


def test_other_runnable_tasks_leave_out_this_processes_running_threads(tmp_path: Path) -> None:
    # 5 runnable system-wide, 2 of them ours (the caller and a spinning llama thread): 3 belong to others.
    assert other_runnable_tasks(fake_proc(tmp_path, 5, "RRSS")) == 3


def test_other_runnable_tasks_never_goes_below_zero_and_counts_the_caller(tmp_path: Path) -> None:
    assert other_runnable_tasks(fake_proc(tmp_path, 1, "SS")) == 0


def test_without_proc_stat_there_is_no_answer(tmp_path: Path) -> None:
    assert other_runnable_tasks(tmp_path) is None


def test_the_real_proc_gives_a_count() -> None:
    count = other_runnable_tasks()
    assert count is not None and count >= 0


@pytest.mark.parametrize(("others", "threads"), [(0, 2), (1, 1), (2, 1), (5, 1), (None, 2)])
def test_decode_threads_are_the_cores_others_leave_free(others: int | None, threads: int) -> None:
    assert ThreadGovernor(2, machine_cpus=2, others=lambda: others).decode_threads() == threads


def test_on_a_big_machine_a_small_share_counts_the_machines_free_cores() -> None:
    # 4 threads allowed on a 16-CPU host where 13 other tasks run: 3 cores are free.
    assert ThreadGovernor(4, machine_cpus=16, others=lambda: 13).decode_threads() == 3
    assert ThreadGovernor(4, machine_cpus=16, others=lambda: 6).decode_threads() == 4


def test_the_count_is_rechecked_only_after_the_interval() -> None:
    now, seen = [0.0], iter([2, 0, 0])
    governor = ThreadGovernor(4, machine_cpus=4, interval_s=0.25, others=lambda: next(seen), clock=lambda: now[0])
    assert governor.decode_threads() == 2
    now[0] = 0.1
    assert governor.decode_threads() == 2  # not asked again yet
    now[0] = 0.3
    assert governor.decode_threads() == 4


def test_a_busy_sibling_process_is_seen() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        seen = max(other_runnable_tasks() or 0 for _ in range(20))
    finally:
        spinner.kill()
        spinner.wait()
    assert seen >= 1
