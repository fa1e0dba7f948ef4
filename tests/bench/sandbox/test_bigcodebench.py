"""BigCodeBench tasks, what a machine lacks for them, and the reference's code clean-up."""

from __future__ import annotations

import os
from pathlib import Path

from clue.bench.sandbox.bigcodebench import TASKS_FILE, default_env_root, extract_code, load_tasks, missing, sanitize

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")


def test_the_1140_tasks_load_with_their_tests() -> None:
    tasks = load_tasks(default_env_root())
    assert len(tasks) == 1140
    task = tasks["BigCodeBench/1"]
    assert task.entry_point == "task_func" and "class TestCases" in task.test
    assert task.canonical_code.startswith(task.code_prompt) and "def task_func" in task.canonical_code
    assert task.library_names == ["collections", "random", "string"]


def test_missing_names_each_absent_resource(tmp_path: Path) -> None:
    assert missing(default_env_root()) is None
    absent = missing(tmp_path)
    assert absent is not None and str(tmp_path / TASKS_FILE) in absent
    # The public BEHEMOTH release carries no bigcodebench sources or targets.
    released = missing(default_env_root(), DATA_ROOT)
    assert released is not None and "bigcodebench" in released and "target.jsonl" in released


def test_code_comes_from_the_first_fenced_block() -> None:
    assert extract_code("Here:\n```python\nx = 1\n```\nand ```python\ny = 2\n```") == "x = 1"
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"


def test_sanitize_keeps_what_the_entry_point_needs() -> None:
    code = ("import os\nfrom math import pi\nLIMIT = 3\nUNUSED = 4\n\ndef helper(x):\n    return x * LIMIT\n\n"
            "def task_func(n):\n    return helper(n) + pi\n\nprint(task_func(2))\n\n"
            "if __name__ == '__main__':\n    task_func(1)\n")
    cleaned = sanitize(code, "task_func")
    assert "import os" in cleaned and "from math import pi" in cleaned
    assert "LIMIT = 3" in cleaned and "def helper" in cleaned and "def task_func" in cleaned
    assert "UNUSED" not in cleaned and "print(" not in cleaned and "__main__" not in cleaned
    namespace: dict[str, object] = {}
    exec(compile(cleaned, "<sanitized>", "exec"), namespace)
    assert namespace["task_func"](1) == 3 + 3.141592653589793  # type: ignore[operator]
    assert sanitize("def broken(:\n", "task_func") == "def broken(:\n"
