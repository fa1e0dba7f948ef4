"""Reading `lineage.json` into the one typed lineage: the typed file every method writes now, and the per-method
layouts clue wrote before it (tournament rounds, GEPA proposals, ACE steps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clue.bench.run.lineage import (
    LINEAGE_FORMAT,
    LINEAGE_VERSION,
    AceDetails,
    Details,
    EntryStatus,
    GepaDetails,
    Lineage,
    LineageEntry,
    Origin,
    StageScore,
)
from clue.bench.run.lineage_tournament import legacy_tournament_lineage
from clue.errors import BadInputError


def lineage_of(raw: Any, method: str, path: Path) -> Lineage:
    """The typed lineage of a parsed `lineage.json`, whichever clue wrote it; one line naming the file otherwise."""
    try:
        if isinstance(raw, dict) and raw.get("format") == LINEAGE_FORMAT:
            if raw.get("version") != LINEAGE_VERSION:
                raise BadInputError(f"{path}: lineage version {raw.get('version')!r}; this clue reads version "
                                    f"{LINEAGE_VERSION}")
            return Lineage.model_validate(raw)
        if isinstance(raw, dict) and "rounds" in raw:
            return legacy_tournament_lineage(raw)
        if isinstance(raw, list):
            entries = [e for e in raw if isinstance(e, dict) and isinstance(e.get("hash"), str)]
            return Lineage(method=method, entries=[_entry(e, method) for e in entries])
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{path}: not a lineage this clue can read ({str(exc).splitlines()[0]})") from None
    raise BadInputError(f"{path}: not a lineage this clue can read (neither rounds nor a list of entries)")


def _entry(e: dict[str, Any], method: str) -> LineageEntry:
    """One GEPA proposal or one ACE sample step, as clue wrote them before the typed lineage."""
    key, parent = e["hash"], e.get("parent")
    parents = [parent] if isinstance(parent, str) else []
    if "epoch" in e:  # ACE: one entry per sample; a step that changed nothing keeps its parent's hash
        details: Details = AceDetails(
            pre_train_success=e.get("pre_train_success"), retries=int(e.get("retries") or 0),
            retry_success=e.get("retry_success"), post_train_success=e.get("post_train_success"),
            operations=[str(o) for o in e.get("operations") or []], reflection=str(e.get("reflection") or ""))
        origin = Origin(epoch=e.get("epoch"), step=e.get("step"), sample=e.get("pair"))
        status: EntryStatus = "unchanged" if parent == key else ("seed" if not parents else "accepted")
        return LineageEntry(id=f"{key}@{origin.label()}", hash=key, name=f"{method}-{key[:8]}", parents=parents,
                            origin=origin, status=status, diff=str(e.get("diff") or ""), details=details)
    scores = {"validation": StageScore(accuracy=e["val_score"], n=e.get("val_examples"))} \
        if e.get("val_score") is not None else {}
    return LineageEntry(id=key, hash=key, name=f"{method}-{key[:8]}", parents=parents,
                        origin=Origin(iteration=e.get("iteration")), status=e.get("status") or "proposed",
                        reason=str(e.get("reason") or ""), diff=str(e.get("diff") or ""), scores=scores,
                        details=GepaDetails(minibatch_before=e.get("minibatch_before"),
                                            minibatch_after=e.get("minibatch_after")))


def read_lineage(path: Path, method: str) -> Lineage | None:
    """The typed lineage in `path` (None when there is none); one line naming the file when it is unreadable."""
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return lineage_of(raw, method, path)
