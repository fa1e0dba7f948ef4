"""Usage ledger: every call counts; cached calls cost no tokens or time; failures are counted too."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from clue.llm.ledger import Ledger
from clue.llm.types import ROLES, Completion


def test_starts_empty_for_every_role() -> None:
    ledger = Ledger()
    assert set(ledger.by_role) == set(ROLES)
    assert ledger.total_tokens() == 0


def test_records_calls_tokens_latency() -> None:
    ledger = Ledger()
    ledger.record("solver", Completion("a", prompt_tokens=10, completion_tokens=5, latency_s=0.5))
    ledger.record("solver", Completion("b", prompt_tokens=1, completion_tokens=2, latency_s=0.25))
    ledger.record("judge", Completion("c", prompt_tokens=3, completion_tokens=1, latency_s=0.1))
    solver = ledger.by_role["solver"]
    assert (solver.calls, solver.prompt_tokens, solver.completion_tokens) == (2, 11, 7)
    assert solver.latency_s == 0.75
    assert solver.total_tokens == 18
    assert ledger.total_tokens() == 22
    assert ledger.by_role["extractor"].calls == 0


def test_cached_calls_count_but_cost_nothing() -> None:
    ledger = Ledger()
    ledger.record("extractor", Completion("a", 100, 50, 2.0, cached=True))
    usage = ledger.by_role["extractor"]
    assert (usage.calls, usage.cached_calls, usage.total_tokens, usage.latency_s) == (1, 1, 0, 0.0)


def test_failures() -> None:
    ledger = Ledger()
    ledger.record_failure("optimizer")
    ledger.record_failure("optimizer")
    usage = ledger.by_role["optimizer"]
    assert (usage.calls, usage.failed_calls, usage.total_tokens) == (2, 2, 0)


def test_snapshot_and_write(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.record("solver", Completion("a", 4, 6, 1.0))
    snapshot = ledger.snapshot()
    assert snapshot["solver"] == {"calls": 1, "cached_calls": 0, "failed_calls": 0, "prompt_tokens": 4,
                                  "completion_tokens": 6, "latency_s": 1.0, "total_tokens": 10}
    path = tmp_path / "ledger.json"
    ledger.write(path)
    assert json.loads(path.read_text()) == snapshot
    assert not path.with_suffix(".tmp").exists()
    ledger.record("solver", Completion("b", 1, 1, 0.0))
    ledger.write(path)  # overwrites in place
    assert json.loads(path.read_text())["solver"]["calls"] == 2


def test_thread_safe_counts() -> None:
    ledger = Ledger()

    def work() -> None:
        for _ in range(2000):
            ledger.record("judge", Completion("x", 1, 1, 0.0))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.by_role["judge"].calls == 8000
    assert ledger.total_tokens() == 16000
