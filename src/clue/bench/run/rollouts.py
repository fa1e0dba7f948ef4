"""The rollout record and its append-only JSONL store, which is also what `--resume` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from clue.bench.run.events import Event
from clue.fileio import write_atomic


class Rollout(BaseModel):
    rollout_id: str
    prompt_name: str
    prompt_hash: str
    dataset: str
    subset: str
    category: str
    ood: bool
    source_id: int
    target_id: int
    repeat: int
    memory: str = ""
    solver_output: str = ""
    reward: float = 0.0
    score_detail: str = ""
    error: str | None = None
    extract_prompt_tokens: int = 0
    extract_completion_tokens: int = 0
    solve_prompt_tokens: int = 0
    solve_completion_tokens: int = 0
    judge_tokens: int = 0
    latency_s: float = 0.0
    notes: list[str] = []
    success: bool | None = None  # where the dataset reports success apart from reward (agentic, unit tests)
    # Failed for an infrastructure reason (endpoint, unparseable reply, timeout, environment crash): not a
    # score. Excluded from results by default, counted, and retried by --resume. A wrong answer is reward 0.
    infra_failure: bool = False
    unreadable_verdicts: int = 0  # judge verdicts unreadable even when asked again (scored as the reference does)
    events: list[Event] = []

    @property
    def scored(self) -> bool:
        """Whether this rollout is a score: an infrastructure failure is not (it is left out and counted)."""
        return not self.infra_failure

    @property
    def succeeded(self) -> bool:
        """The one definition of success: the dataset's own success flag where it reports one (episodes, unit
        tests), otherwise a full reward (>= 1.0). A rollout that failed or errored never succeeded."""
        if not self.scored or self.error:
            return False
        if self.success is not None:
            return self.success
        return self.reward >= 1.0

    @property
    def outcome(self) -> Literal["success", "failure", "error"]:
        """success | failure | error (an infrastructure failure, or a record that could not be run)."""
        if not self.scored or self.error:
            return "error"
        return "success" if self.succeeded else "failure"

    @property
    def pair_key(self) -> str:
        return f"{self.subset}:{self.source_id}:{self.target_id}"

    @property
    def tokens(self) -> int:
        return (self.extract_prompt_tokens + self.extract_completion_tokens + self.solve_prompt_tokens
                + self.solve_completion_tokens + self.judge_tokens)


def rollout_id(prompt_hash: str, pair_key: str, repeat: int) -> str:
    return f"{prompt_hash}:{pair_key}:{repeat}"


class RolloutStore:
    """Each finished rollout is one line, written and flushed at once: a killed process loses none.

    A torn last line (the process died mid-write) is dropped on load, and the file is rewritten without it
    before anything new is appended, so the file never holds two records glued together.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rollouts: dict[str, Rollout] = {}
        self.skipped_lines: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._load()
        self._handle = path.open("a", encoding="utf-8")

    def _load(self) -> None:
        good_lines: list[str] = []
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = Rollout.model_validate_json(line)
                except ValidationError:
                    self.skipped_lines.append(f"{self.path}:{number}: unreadable rollout line dropped")
                    continue
                self.rollouts[record.rollout_id] = record
                good_lines.append(line if line.endswith("\n") else line + "\n")
        if self.skipped_lines:
            write_atomic(self.path, "".join(good_lines))

    def __contains__(self, rid: str) -> bool:
        return self.get(rid) is not None

    def get(self, rid: str) -> Rollout | None:
        """A finished rollout. One that failed for an infrastructure reason is not finished: --resume retries
        it, and its new line replaces the old one on the next load."""
        found = self.rollouts.get(rid)
        return None if found is None or found.infra_failure else found

    def append(self, rollout: Rollout) -> None:
        self._handle.write(rollout.model_dump_json() + "\n")
        self._handle.flush()
        self.rollouts[rollout.rollout_id] = rollout

    def close(self) -> None:
        self._handle.close()


def read_rollouts(path: Path) -> list[Rollout]:
    out: list[Rollout] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    out.append(Rollout.model_validate_json(line))
                except ValidationError:
                    continue
    return out
