"""ACE's playbook: bullets with helpful/harmful counters, delta operations applied deterministically,
pruning, and rendering into the extraction prompt."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

PLAYBOOK_HEADER = "## Playbook"
PLAYBOOK_INTRO = "Rules learned from earlier extractions. Apply the ones that fit this conversation."
MAX_BULLET_CHARS = 240

OperationKind = Literal["ADD", "UPDATE", "REMOVE"]


class Bullet(BaseModel):
    id: str
    text: str
    helpful: int = 0
    harmful: int = 0

    @property
    def number(self) -> int:
        digits = re.sub(r"\D", "", self.id)
        return int(digits) if digits else 0

    def line(self) -> str:
        return f"- [{self.id}] {self.text} (helpful={self.helpful}, harmful={self.harmful})"


@dataclass(frozen=True)
class DeltaOperation:
    """One edit. ADD needs text; UPDATE changes text and/or counters; REMOVE needs only the id."""

    kind: OperationKind
    bullet_id: str = ""
    text: str = ""
    helpful_delta: int = 0
    harmful_delta: int = 0


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower().rstrip(".")


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MAX_BULLET_CHARS else text[:MAX_BULLET_CHARS - 3].rstrip() + "..."


class Playbook(BaseModel):
    bullets: list[Bullet] = []
    next_id: int = 1

    def get(self, bullet_id: str) -> Bullet | None:
        return next((b for b in self.bullets if b.id == bullet_id.strip().strip("[]")), None)

    def render(self, seed_text: str) -> str:
        """The seed prompt unchanged while the playbook is empty (so its rollouts are shared)."""
        if not self.bullets:
            return seed_text
        lines = "\n".join(b.line() for b in self.bullets)
        return f"{seed_text.rstrip()}\n\n{PLAYBOOK_HEADER}\n{PLAYBOOK_INTRO}\n{lines}\n"

    def listing(self) -> str:
        return "\n".join(b.line() for b in self.bullets) or "(empty)"

    def apply(self, operations: Iterable[DeltaOperation]) -> list[str]:
        """Apply in order; invalid operations are skipped. Returns what was done, one line each."""
        done: list[str] = []
        for op in operations:
            note = self._apply_one(op)
            if note:
                done.append(note)
        return done

    def _apply_one(self, op: DeltaOperation) -> str:
        if op.kind == "ADD":
            text = _clean(op.text)
            if not text or any(_normalized(b.text) == _normalized(text) for b in self.bullets):
                return ""
            added = Bullet(id=f"b{self.next_id}", text=text)
            self.next_id += 1
            self.bullets.append(added)
            return f"ADD {added.id}: {text}"
        bullet = self.get(op.bullet_id)
        if bullet is None:
            return ""
        if op.kind == "REMOVE":
            self.bullets.remove(bullet)
            return f"REMOVE {bullet.id}"
        changes: list[str] = []
        text = _clean(op.text)
        if text and text != bullet.text:
            bullet.text = text
            changes.append("text")
        if op.helpful_delta or op.harmful_delta:
            bullet.helpful = max(bullet.helpful + op.helpful_delta, 0)
            bullet.harmful = max(bullet.harmful + op.harmful_delta, 0)
            changes.append(f"helpful{op.helpful_delta:+d} harmful{op.harmful_delta:+d}")
        return f"UPDATE {bullet.id}: {', '.join(changes)}" if changes else ""

    def prune(self, max_bullets: int) -> list[str]:
        """Drop bullets that hurt more than they help (harmful > helpful + 1), then cap the size by dropping
        the lowest net score (helpful - harmful), oldest first among equals."""
        removed = [b for b in self.bullets if b.harmful > b.helpful + 1]
        self.bullets = [b for b in self.bullets if b not in removed]
        overflow = len(self.bullets) - max_bullets
        if overflow > 0:
            ranked = sorted(self.bullets, key=lambda b: (b.helpful - b.harmful, b.number))
            dropped = ranked[:overflow]
            removed.extend(dropped)
            self.bullets = [b for b in self.bullets if b not in dropped]
        return [f"PRUNE {b.id} (helpful={b.helpful}, harmful={b.harmful})" for b in removed]


def counter_operations(tags: Iterable[tuple[str, str]]) -> list[DeltaOperation]:
    """(bullet id, "helpful"|"harmful") tags -> one counter UPDATE per bullet and verdict."""
    seen: set[tuple[str, str]] = set()
    ops: list[DeltaOperation] = []
    for bullet_id, verdict in tags:
        key = (bullet_id.strip().strip("[]"), verdict)
        if verdict not in {"helpful", "harmful"} or key in seen:
            continue
        seen.add(key)
        ops.append(DeltaOperation("UPDATE", key[0], helpful_delta=int(verdict == "helpful"),
                                  harmful_delta=int(verdict == "harmful")))
    return ops
