"""The process-wide llama.cpp setup: OpenMP wait policy before loading, CPUs actually available."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clue.llm.backends.llama_runtime import OPENMP_WAIT_VARIABLES, available_cpus

CHECK_ENV = """
import os, sys
import clue.llm.backends.local
print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"), "llama_cpp" in sys.modules)
"""



def _policy_after_import(env: dict[str, str]) -> str:
    child = subprocess.run([sys.executable, "-c", CHECK_ENV], env=env, capture_output=True, text=True,
                           check=True, timeout=120)
    return child.stdout.strip()


def _without_wait_variables() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in OPENMP_WAIT_VARIABLES}


def test_importing_the_local_backend_bounds_the_spin_before_llama_cpp_loads() -> None:
    # The spin is bounded, and llama_cpp (which loads libgomp, reading it once) is not imported yet.
    assert _policy_after_import(_without_wait_variables()) == "None 10000 False"


def test_a_user_wait_policy_or_spin_count_is_kept() -> None:
    assert _policy_after_import({**_without_wait_variables(), "OMP_WAIT_POLICY": "PASSIVE"}) == "PASSIVE None False"
    assert _policy_after_import({**_without_wait_variables(), "GOMP_SPINCOUNT": "0"}) == "None 0 False"


def test_a_cgroup_v2_quota_caps_the_thread_count(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU
    assert available_cpus(tmp_path) == 1

    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path) == affinity


def test_a_cgroup_v1_quota_caps_the_thread_count(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(tmp_path) == 1

    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert available_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_no_cgroup_files_means_the_affinity_mask() -> None:
    assert available_cpus(Path("/nonexistent")) == len(os.sched_getaffinity(0))
