"""Usage ledger: calls, tokens and latency per role, for budgets and for every run's record."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from clue.fileio import write_atomic
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


Listener = Callable[[Role, "Completion | None"], None]  # (role, completion, or None for a failed call)


class Ledger:
    """Counts every call, cached or not; cached calls cost no tokens or time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_role: dict[Role, RoleUsage] = {role: RoleUsage() for role in ROLES}
        self.by_endpoint: dict[str, RoleUsage] = {}  # calls that reached a server, by its base URL
        self.listeners: list[Listener] = []  # told of every call (a run's usage journal)

    def record(self, role: Role, completion: Completion) -> None:
        with self._lock:
            usage = self.by_role[role]
            usage.calls += 1
            if completion.cached:
                usage.cached_calls += 1
            else:
                usage.prompt_tokens += completion.prompt_tokens
                usage.completion_tokens += completion.completion_tokens
                usage.latency_s += completion.latency_s
                if completion.endpoint:
                    served = self.by_endpoint.setdefault(completion.endpoint, RoleUsage())
                    served.calls += 1
                    served.prompt_tokens += completion.prompt_tokens
                    served.completion_tokens += completion.completion_tokens
                    served.latency_s += completion.latency_s
        for listener in list(self.listeners):
            listener(role, completion)

    def record_failure(self, role: Role) -> None:
        with self._lock:
            self.by_role[role].calls += 1
            self.by_role[role].failed_calls += 1
        for listener in list(self.listeners):
            listener(role, None)

    def total_calls(self) -> int:
        """Calls that reached an endpoint (cached replies cost nothing and are not counted)."""
        with self._lock:
            return sum(u.calls - u.cached_calls for u in self.by_role.values())

    def total_tokens(self) -> int:
        with self._lock:
            return sum(u.total_tokens for u in self.by_role.values())

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {role: {**asdict(u), "total_tokens": u.total_tokens} for role, u in self.by_role.items()}

    def endpoint_snapshot(self) -> dict[str, dict[str, float]]:
        """Usage per endpoint (base URL) of the calls that reached one."""
        with self._lock:
            return {url: {**asdict(u), "total_tokens": u.total_tokens} for url, u in self.by_endpoint.items()}

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.snapshot(), indent=2))


class UsageJournal:
    """Every call of one run, one JSON line each, flushed at once: a run killed and resumed counts each call
    exactly once (the totals are the sum of the lines, whichever process made them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle = path.open("a", encoding="utf-8")

    def __call__(self, role: Role, completion: Completion | None) -> None:
        entry: dict[str, object] = {"role": role, "failed": completion is None,
                 "cached": bool(completion and completion.cached),
                 "prompt_tokens": completion.prompt_tokens if completion and not completion.cached else 0,
                 "completion_tokens": completion.completion_tokens if completion and not completion.cached else 0,
                 "latency_s": round(completion.latency_s, 4) if completion and not completion.cached else 0.0}
        if completion is not None and completion.endpoint and not completion.cached:
            entry["endpoint"] = completion.endpoint
        with self._lock:
            self._handle.write(json.dumps(entry) + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def journal_totals(path: Path) -> dict[str, dict[str, float]]:
    """Usage per role from a journal, in the ledger's snapshot form; a torn last line is ignored."""
    return journal_ledger(path).snapshot()


def journal_endpoint_totals(path: Path) -> dict[str, dict[str, float]]:
    """Usage per endpoint (base URL) from a journal, in the ledger's endpoint_snapshot form."""
    return journal_ledger(path).endpoint_snapshot()


def journal_ledger(path: Path) -> Ledger:
    """A ledger holding every call of a journal; a torn last line is ignored."""
    ledger = Ledger()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                role = entry["role"]
            except (ValueError, KeyError, TypeError):
                continue
            if role not in ledger.by_role:
                continue
            if entry.get("failed"):
                ledger.record_failure(role)
            else:
                ledger.record(role, Completion(text="", prompt_tokens=int(entry.get("prompt_tokens", 0)),
                                               completion_tokens=int(entry.get("completion_tokens", 0)),
                                               latency_s=float(entry.get("latency_s", 0.0)),
                                               cached=bool(entry.get("cached")), endpoint=entry.get("endpoint")))
    return ledger
