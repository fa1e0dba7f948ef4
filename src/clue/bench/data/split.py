"""The official train/test split (`global_split_per20.json`).

Train is the split file's `train_source_ids`. Test is every other source of an in-distribution dataset,
capped at TEST_CAP per dataset (sources ordered by subset as listed in the registry, then by id; AIME's
three files share one cap). The OOD split is every source of an OOD dataset. `benchmark` is what the
protocol scores: test for an in-distribution dataset, ood for an OOD one (one run gives both macros).
`all` is every source, train included and uncapped: for reading the data, never for scores.
An in-distribution dataset asked for `ood`, or an OOD one for `train`/`test`, is refused with one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import first_validation_error
from clue.errors import BadInputError

Split = Literal["train", "test", "ood", "benchmark", "all"]
SPLITS: tuple[Split, ...] = ("train", "test", "ood", "benchmark", "all")
SCORED_SPLITS: tuple[Split, ...] = ("train", "test", "ood", "benchmark")  # what `clue eval` accepts
TEST_CAP = 200
SPLIT_FILE = Path("data_collection/train/global_split_per20.json")
Warn = Callable[[str], None]
SubsetSourceId = tuple[str, int]  # (subset directory, source id)


class SplitMismatchError(BadInputError):
    """A split the dataset does not have (test or train of an OOD set, ood of an in-distribution set)."""


def split_mismatch(spec: DatasetEntry, split: Split) -> str | None:
    """Why `spec` has no `split` (one line with what to use instead), or None when it has it."""
    if spec.ood and split in ("train", "test"):
        return (f"dataset {spec.name} is out-of-distribution: it has no {split} split (use --split ood, or "
                "benchmark for ID test plus OOD)")
    if not spec.ood and split == "ood":
        return (f"dataset {spec.name} is in-distribution: its sources are in train/test, not ood (use "
                "--split test, or benchmark for ID test plus OOD)")
    return None


class SplitEntry(BaseModel):
    name: str
    source_file_path: str = ""
    target_file_path: str = ""
    train_source_ids: list[int]


class SplitFile(BaseModel):
    seed: int | None = None
    max_train_per_dataset: int | None = None
    datasets: list[SplitEntry]

    def train_ids(self, subset: str) -> set[int] | None:
        """Train source ids of one subset, or None when the split file does not list it."""
        for entry in self.datasets:
            if entry.name == subset:
                return set(entry.train_source_ids)
        return None


def load_split_file(data_root: Path, *, warn: Warn) -> SplitFile | None:
    path = data_root / SPLIT_FILE
    try:
        return SplitFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        warn(f"no split file: {path} missing; no train/test split available")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        warn(f"{path}: not valid JSON ({exc})")
    except ValidationError as exc:
        warn(f"{path}: {first_validation_error(exc)}")
    return None


def select_sources(
    spec: DatasetEntry,
    split: Split,
    available: Iterable[SubsetSourceId],
    split_file: SplitFile | None,
    *,
    warn: Warn,
) -> list[SubsetSourceId]:
    """The (subset, source id) pairs of `spec` in `split`, in a fixed order, from the sources on disk."""
    order = {subset: i for i, subset in enumerate(spec.subsets)}
    ordered = sorted(set(available), key=lambda item: (order.get(item[0], len(order)), item[1]))
    if split == "all":
        return ordered
    mismatch = split_mismatch(spec, split)
    if mismatch is not None:
        raise SplitMismatchError(mismatch)
    if spec.ood:  # ood or benchmark
        return ordered
    if split_file is None:
        return []
    train: set[SubsetSourceId] = set()
    for subset in spec.subsets:
        ids = split_file.train_ids(subset)
        if ids is None:
            warn(f"split file does not list {subset}; all its sources count as test")
            continue
        train.update((subset, source_id) for source_id in ids)
    if split == "train":
        on_disk = set(ordered)
        missing = sorted(train - on_disk)
        if missing and on_disk:
            warn(f"dataset {spec.name}: {len(missing)} train source ids not in the source files, "
                 f"e.g. {missing[0][0]}:{missing[0][1]}")
        return [item for item in ordered if item in train]
    return [item for item in ordered if item not in train][:TEST_CAP]
