"""Usage ledger: calls, tokens and latency per role, for budgets and for every run's record."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from clue.llm.types import ROLES, Completion, Role


@dataclass
class RoleUsage:
    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Ledger:
    """Counts every call, cached or not; cached calls cost no tokens or time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_role: dict[Role, RoleUsage] = {role: RoleUsage() for role in ROLES}

    def record(self, role: Role, completion: Completion) -> None:
        with self._lock:
            usage = self.by_role[role]
            usage.calls += 1
            if completion.cached:
                usage.cached_calls += 1
                return
            usage.prompt_tokens += completion.prompt_tokens
            usage.completion_tokens += completion.completion_tokens
            usage.latency_s += completion.latency_s

    def record_failure(self, role: Role) -> None:
        with self._lock:
            self.by_role[role].calls += 1
            self.by_role[role].failed_calls += 1

    def total_tokens(self) -> int:
        with self._lock:
            return sum(u.total_tokens for u in self.by_role.values())

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {role: {**asdict(u), "total_tokens": u.total_tokens} for role, u in self.by_role.items()}

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=2))
        tmp.replace(path)
