"""The report-size benchmark keeps working: a small synthetic run, its report, and the browser's load time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "perf" / "report_size.py"


def test_report_size_bench_prints_size_and_browser_load_time(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--rollouts", "50", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=True)
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["rollouts"] == "50"
    assert float(lines["report_mb"]) > 0 and (tmp_path / "report.html").exists()
    # The page finished building its transcript list in the browser and stamped how long that took.
    assert float(lines["browser_load_ms"]) > 0
