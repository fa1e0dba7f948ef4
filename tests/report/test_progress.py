"""Progress without a terminal: plain lines at a steady interval, and one at the end."""

from __future__ import annotations

import io
import time

from rich.console import Console

from clue.bench.run.rollouts import Rollout
from clue.report.progress import rollout_progress


def _rollout(i: int, *, failed: bool = False) -> Rollout:
    return Rollout(rollout_id=f"h:s:{i}:{i}:0", prompt_name="p", prompt_hash="h", dataset="d", subset="s",
                   category="c", ood=False, source_id=i, target_id=i, repeat=0, infra_failure=failed,
                   error="endpoint down" if failed else None, extract_prompt_tokens=10)


def test_piped_progress_prints_lines_on_a_heartbeat() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=40)
    with rollout_progress(3, "simple on test", console, interval_s=0.05) as on_rollout:
        on_rollout(_rollout(0), False)
        time.sleep(0.2)  # nothing finishes for a while: the heartbeat still reports
        on_rollout(_rollout(1), True)
        on_rollout(_rollout(2, failed=True), False)
    lines = out.getvalue().splitlines()
    assert lines[0] == "simple on test: 3 rollouts to go"
    assert any(line.startswith("simple on test: 1/3 rollouts (1 new") for line in lines[1:-1])
    assert lines[-1].startswith("simple on test: 3/3 rollouts (2 new, 1 errors, 1 infrastructure failures, "
                                "20 tokens)")
    assert all(len(line) > 40 for line in lines[1:]), "lines are not wrapped at the console width"
