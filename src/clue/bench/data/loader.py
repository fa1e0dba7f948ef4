"""Read BEHEMOTH sources, targets and reference outputs from a data root, and build pairs.

Bad data never raises: a missing file gives one warning naming it, and a line that is not valid JSON or
fails validation gives one `path:LINE: reason` warning and is skipped. Only an unknown dataset name
(UnknownDatasetError) or a data root that does not exist (DataRootError) raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from clue.bench.data.datasets import get_dataset
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import (
    Pair,
    ReferenceOutput,
    SourceOutcome,
    SourceRecord,
    TargetRecord,
    first_validation_error,
)
from clue.bench.data.root import (
    DATA_ROOT_ENV,
    SOURCE_FILE,
    TARGET_FILE,
    default_data_root,
    subset_path,
)
from clue.bench.data.split import (
    SPLITS,
    Split,
    SplitMismatchError,
    load_split_file,
    select_sources,
    split_mismatch,
)
from clue.errors import BadInputError, NotFoundError

Warn = Callable[[str], None]
Model = TypeVar("Model", bound=BaseModel)

__all__ = ["DATA_ROOT_ENV", "SOURCE_FILE", "TARGET_FILE", "DataRootError", "check_data_root", "count_sources",
           "default_data_root", "load_pairs", "load_reference_outputs", "load_sources", "load_targets",
           "read_jsonl", "subset_dir"]


class DataRootError(NotFoundError):
    """The data root (the directory that contains `data_collection/`) is not there."""


def check_data_root(data_root: Path) -> None:
    if not data_root.is_dir():
        raise DataRootError(f"data root {data_root} does not exist ({DATA_ROOT_ENV} sets where to look)")
    if not (data_root / "data_collection").is_dir():
        raise DataRootError(
            f"data root {data_root} has no data_collection/ directory "
            f"({DATA_ROOT_ENV} must name the directory that contains it)"
        )


def subset_dir(data_root: Path, spec: DatasetEntry, subset: str) -> Path:
    return subset_path(data_root, spec.split_dir, subset)


_LINE_ID = re.compile(rb'"id"\s*:\s*(\d+)')


def line_ids(path: Path) -> set[int]:
    """The id of every line of `path`, broken lines included (read leniently from the raw text).

    Selection (split, test cap, --limit) counts these ids, so a broken line changes nothing but itself:
    the pairs around it stay the same pairs.
    """
    ids: set[int] = set()
    try:
        raw = path.read_bytes()
    except OSError:
        return ids
    for line in raw.splitlines():
        try:
            data = json.loads(line)
            found = data.get("id") if isinstance(data, dict) else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            match = _LINE_ID.search(line)
            found = int(match.group(1)) if match else None
        if isinstance(found, int) and not isinstance(found, bool):
            ids.add(found)
    return ids


def read_jsonl(path: Path, model: type[Model], *, warn: Warn) -> list[Model] | None:
    """Validated records of a JSON Lines file, bad lines skipped with a warning; None if it is absent."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warn(f"{path}: cannot read ({exc.strerror or exc})")
        return None
    records: list[Model] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            warn(f"{path}:{number}: invalid JSON ({_one_line(exc)})")
            continue
        if not isinstance(data, dict):
            warn(f"{path}:{number}: expected a JSON object, got {type(data).__name__}")
            continue
        try:
            records.append(model.model_validate(data))
        except ValidationError as exc:
            warn(f"{path}:{number}: {first_validation_error(exc)}")
    return records


def load_sources(data_root: Path, dataset: str, *, warn: Warn) -> dict[str, list[SourceRecord]]:
    """Source records per subset; a subset whose file is missing is left out with a warning."""
    spec = get_dataset(dataset)
    check_data_root(data_root)
    found: dict[str, list[SourceRecord]] = {}
    for subset in spec.subsets:
        path = subset_dir(data_root, spec, subset) / SOURCE_FILE
        records = read_jsonl(path, SourceRecord, warn=warn)
        if records is None:
            warn(f"no sources: {path} missing; dataset {spec.name} has no pairs{_from(spec, subset)}")
            continue
        found[subset] = _unique_ids(records, path, warn)
    return found


def load_targets(data_root: Path, dataset: str, *, warn: Warn) -> dict[str, dict[int, TargetRecord]]:
    """Target records per subset and id, validated against the dataset's target model."""
    spec = get_dataset(dataset)
    check_data_root(data_root)
    found: dict[str, dict[int, TargetRecord]] = {}
    for subset in spec.subsets:
        targets = _load_subset_targets(data_root, spec, subset, warn=warn)
        if targets is not None:
            found[subset] = targets
    return found


def load_reference_outputs(path: Path, *, warn: Warn) -> list[ReferenceOutput]:
    """Lines of a released `target_output.jsonl`; a missing file gives a warning and an empty list."""
    records = read_jsonl(path, ReferenceOutput, warn=warn)
    if records is None:
        warn(f"no reference outputs: {path} missing")
        return []
    return _unique_ids(records, path, warn)


def load_pairs(
    data_root: Path, dataset: str, split: Split, *, limit: int | None = None, warn: Warn
) -> list[Pair]:
    """Pairs of one dataset and split, in a fixed order: each source with its FIRST target id, or with every
    target id at test time where the entry says so (`DatasetEntry.all_targets_at_test`: the personalization
    sets, as the reference evaluates them). Split `benchmark` is `test` for an in-distribution dataset and
    `ood` for an OOD one."""
    spec = get_dataset(dataset)
    if split not in SPLITS:
        raise BadInputError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    mismatch = split_mismatch(spec, split) if split != "all" else None
    if mismatch is not None:
        raise SplitMismatchError(mismatch)
    check_data_root(data_root)
    sources = load_sources(data_root, spec.name, warn=warn)
    if not sources:
        return []
    needs_split_file = split in ("train", "test", "benchmark") and not spec.ood
    split_file = load_split_file(data_root, warn=warn) if needs_split_file else None
    by_key = {(subset, record.id): record for subset, records in sources.items() for record in records}
    on_disk = {(subset, source_id) for subset in sources
               for source_id in line_ids(subset_dir(data_root, spec, subset) / SOURCE_FILE)}
    chosen = select_sources(spec, split, [*by_key, *on_disk], split_file, warn=warn)
    if limit is not None:
        chosen = chosen[:limit]
    targets: dict[str, dict[int, TargetRecord] | None] = {}
    pairs: list[Pair] = []
    for subset, source_id in chosen:
        if (subset, source_id) not in by_key:
            warn(f"{subset_dir(data_root, spec, subset) / SOURCE_FILE}: source id {source_id} is unreadable; "
                 "its pair is left out and no other pair takes its place")
            continue
        if subset not in targets:
            targets[subset] = _load_subset_targets(data_root, spec, subset, warn=warn)
        subset_targets = targets[subset]
        if subset_targets is None:
            continue
        source = by_key[(subset, source_id)]
        every = split in ("test", "ood", "benchmark") and spec.all_targets_at_test
        outcome = SourceOutcome.of(source.metadata) if spec.category == "agentic" else None
        for target_id in source.target_ids if every else source.target_ids[:1]:
            if limit is not None and len(pairs) >= limit:
                break
            target = subset_targets.get(target_id)
            if target is None:
                path = subset_dir(data_root, spec, subset) / TARGET_FILE
                warn(f"{path}: target id {target_id} ({'a' if every else 'first'} target of source "
                     f"{source_id}) not found; pair skipped")
                continue
            pairs.append(Pair(dataset=spec.name, subset=subset, source_id=source_id, target_id=target_id,
                              source_messages=source.messages, target=target.model_dump(),
                              source_outcome=outcome,
                              source_kind="trajectory" if spec.category == "agentic" else "conversation"))
    return pairs


def count_sources(data_root: Path, dataset: str, split: Split) -> int:
    """How many sources `dataset` has in `split` (test capped as usual), before any --limit: what the
    repeats rule counts. Reads only the ids of the source lines; warnings are left to `load_pairs`."""
    spec = get_dataset(dataset)
    check_data_root(data_root)
    on_disk = {(subset, source_id) for subset in spec.subsets
               for source_id in line_ids(subset_dir(data_root, spec, subset) / SOURCE_FILE)}
    needs_split_file = split in ("train", "test", "benchmark") and not spec.ood
    split_file = load_split_file(data_root, warn=lambda message: None) if needs_split_file else None
    return len(select_sources(spec, split, on_disk, split_file, warn=lambda message: None))


def _load_subset_targets(
    data_root: Path, spec: DatasetEntry, subset: str, *, warn: Warn
) -> dict[int, TargetRecord] | None:
    path = subset_dir(data_root, spec, subset) / TARGET_FILE
    records = read_jsonl(path, spec.target_model, warn=warn)
    if records is None:
        warn(f"no targets: {path} missing; dataset {spec.name} has no pairs{_from(spec, subset)}")
        return None
    unique = _unique_ids(records, path, warn)
    return {record.id: record for record in unique}


_Identified = TypeVar("_Identified", SourceRecord, TargetRecord, ReferenceOutput)


def _unique_ids(records: list[_Identified], path: Path, warn: Warn) -> list[_Identified]:
    """Keep the first record of each id; a repeated id is reported once per file."""
    seen: set[int] = set()
    kept: list[_Identified] = []
    repeated: list[int] = []
    for record in records:
        if record.id in seen:
            repeated.append(record.id)
            continue
        seen.add(record.id)
        kept.append(record)
    if repeated:
        warn(f"{path}: {len(repeated)} repeated ids (e.g. {repeated[0]}); kept the first of each")
    return kept


def _from(spec: DatasetEntry, subset: str) -> str:
    return f" from {subset}" if len(spec.subsets) > 1 else ""


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
