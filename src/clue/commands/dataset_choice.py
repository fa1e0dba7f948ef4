"""Which datasets a command runs, and with which solver settings: `--datasets` names, `all` or category
names; the split; what cannot run here; `[datasets.NAME]` in clue.toml and `--solver-*` overrides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from clue.bench.data.datasets import missing_to_run, select_datasets
from clue.bench.data.entry import DatasetEntry, NotRunnableError
from clue.bench.data.overrides import Overrides, from_cli, from_toml, merged
from clue.bench.data.split import SCORED_SPLITS, Split, SplitMismatchError, split_mismatch
from clue.errors import BadInputError

Warn = Callable[[str], None]


def scored_split(split: str) -> Split:
    """The split of a scored run: train, test, ood or benchmark (ID test plus OOD). `all` is refused: it
    would put the training sources into the in-distribution scores."""
    if split == "all":
        raise BadInputError("--split all would mix training sources into the test scores; use --split benchmark "
                            "(ID test plus OOD) or test")
    for known in SCORED_SPLITS:
        if split == known:
            return known
    raise BadInputError(f"unknown split {split!r}; known: {', '.join(SCORED_SPLITS)}")


def choose_datasets(text: str, split: Split, *, env_root: Path, data_root: Path, warn: Warn) -> list[DatasetEntry]:
    """The datasets to run, in registry order. A dataset named on its own must fit the split and be able
    to run here, else the whole command is refused with one line; from `all` or a category, a dataset
    without this split (ID sets for ood, OOD sets for train) or that cannot run here is left out with a
    warning. `--split test` of a group with OOD sets is refused: `benchmark` is the split for both."""
    entries, grouped = select_datasets(text)
    if not entries:
        raise BadInputError("--datasets is empty; give names like membench-high,GameOf24, a category "
                            "(personalization, problem-solving, agentic) or all (see `clue datasets`)")
    chosen: list[DatasetEntry] = []
    for entry in entries:
        mismatch = split_mismatch(entry, split)
        if mismatch is not None:
            if not grouped or split == "test":
                raise SplitMismatchError(f"--datasets {text}: {mismatch}")
            warn(f"left out {entry.name}: {mismatch.partition(': ')[2].partition(' (')[0]}")
            continue
        reason = missing_to_run(entry, env_root, data_root)
        if reason is not None:
            if not grouped:
                raise NotRunnableError(f"--datasets {entry.name}: cannot run here: {reason}")
            warn(f"left out {entry.name}: cannot run here: {reason}")
            continue
        chosen.append(entry)
    if not chosen:
        raise NotRunnableError(f"--datasets {text}: none of these datasets can run here with split {split} "
                               "(see `clue datasets`)")
    return chosen


def solver_overrides(config: Path | None, max_tokens: Sequence[str], settings: Sequence[str]) -> Overrides:
    """Per-dataset solver settings: clue.toml's `[datasets.NAME]` tables, then the command line."""
    path = config or (Path("clue.toml") if Path("clue.toml").exists() else None)
    return merged(from_toml(path), from_cli(max_tokens, settings))
