"""The common cause of a run's infrastructure failures, for the line that ends a failed run.

When most failed rollouts failed for the same reason (an endpoint that rejects the model name or the key, a
reply that is not a completion, a dead environment), the user is told that reason, not only a count, and
the exit code says which kind it is: 4 for a rejected request or a reply that is not a completion, 5 for a
fault that may pass (429, 5xx, timeouts, refused connections), 6 for anything else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clue.bench.run.rollouts import read_rollouts
from clue.errors import ClueError, RunIncompleteError, TransientError, UpstreamError

FailureKind = Literal["rejected", "transient", "other"]

# Phrases of the endpoint errors in clue.llm.backends.openai_backend and clue.llm.client.
REJECTED_PHRASES = ("request rejected (", "not a chat completion")
TRANSIENT_PHRASES = ("rate limited (429)", "server error ", "connection refused", "no reply within",
                     "endpoint unreachable", "gave up after")
CAUSE_CHARS = 300


@dataclass(frozen=True)
class FailureCause:
    text: str  # the error line most failures share
    count: int  # how many failures share it
    failed: int  # failures in all
    kind: FailureKind

    def error(self, summary: str, advice: str) -> ClueError:
        """`summary` (the count), this cause, then `advice`, as the error of the kind's exit code."""
        message = f"{summary}; {self.count} of them: {self.text[:CAUSE_CHARS]}. {advice}"
        if self.kind == "rejected":
            return UpstreamError(message)
        if self.kind == "transient":
            return TransientError(message)
        return RunIncompleteError(message)


def failure_kind(error_line: str) -> FailureKind:
    lowered = error_line.lower()
    if any(phrase in lowered for phrase in REJECTED_PHRASES):
        return "rejected"
    if any(phrase in lowered for phrase in TRANSIENT_PHRASES):
        return "transient"
    return "other"


def common_cause(error_lines: Iterable[str]) -> FailureCause | None:
    """The error line shared by more than half of the failures, with its kind; None when there is none."""
    lines = [line.strip() for line in error_lines]
    if not lines:
        return None
    text, count = Counter(lines).most_common(1)[0]
    if 2 * count <= len(lines) or not text:
        return None
    return FailureCause(text=text, count=count, failed=len(lines), kind=failure_kind(text))


def failed_error_lines(rollouts_file: Path) -> list[str]:
    """The error lines of a run's rollouts that failed for infrastructure reasons (the latest try of each)."""
    if not rollouts_file.is_file():
        return []
    latest = {rollout.rollout_id: rollout for rollout in read_rollouts(rollouts_file)}
    return [rollout.error or "" for rollout in latest.values() if rollout.infra_failure]


def failure_error(summary: str, advice: str, error_lines: Sequence[str]) -> ClueError:
    """The error that ends a run with too many failures: the cause and its exit code where one dominates."""
    cause = common_cause(error_lines)
    return cause.error(summary, advice) if cause is not None else RunIncompleteError(f"{summary}. {advice}")
