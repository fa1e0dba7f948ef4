"""The registry of BEHEMOTH datasets: every `DatasetEntry` of `clue.bench.data.entries`, looked up by name,
category or "all", and what each one lacks to run here (its data files, an environment, the sandbox)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from clue.bench.data import entries as _entries_package
from clue.bench.data.entry import (
    CATEGORIES,
    Category,
    DatasetEntry,
    NotRunnableError,
    UnknownDatasetError,
)
from clue.bench.data.root import SOLVER_MODEL_DIR, SOURCE_FILE, TARGET_FILE, default_data_root, subset_path

__all__ = ["CATEGORIES", "DATASETS", "SOLVER_MODEL_DIR", "Category", "DatasetEntry", "DatasetSpec",
           "NotRunnableError", "UnknownDatasetError", "dataset_names", "find_dataset", "get_dataset", "missing_data",
           "missing_resources", "missing_to_run", "select_datasets"]

DatasetSpec = DatasetEntry  # the name older code knows it by


def _collect() -> tuple[DatasetEntry, ...]:
    found: list[DatasetEntry] = []
    for module_info in pkgutil.iter_modules(_entries_package.__path__):
        module = importlib.import_module(f"{_entries_package.__name__}.{module_info.name}")
        found.extend(getattr(module, "ENTRIES", ()))
    names = [entry.name.lower() for entry in found]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RuntimeError(f"dataset entries repeat the name {repeated[0]!r}")
    return tuple(sorted(found, key=lambda e: (CATEGORIES.index(e.category), e.ood, e.rank, e.name)))


_ALL_ENTRIES = _collect()
DATASETS: tuple[DatasetEntry, ...] = tuple(entry for entry in _ALL_ENTRIES if entry.listed)

_BY_KEY: dict[str, DatasetEntry] = {entry.name.lower(): entry for entry in _ALL_ENTRIES}
# Single-file datasets may also be named by their directory (e.g. "prefeval-mcq"). AIME's subsets are not
# aliases: a subset is not a dataset and must not be scored alone by accident.
_BY_KEY.update({entry.subsets[0].lower(): entry for entry in _ALL_ENTRIES
                if len(entry.subsets) == 1 and entry.subsets[0].lower() not in _BY_KEY})


def dataset_names() -> list[str]:
    return [entry.name for entry in DATASETS]


def find_dataset(name: str) -> DatasetEntry | None:
    """The entry named `name` (case-insensitive; hidden test worlds included), or None."""
    return _BY_KEY.get(name.strip().lower())


def get_dataset(name: str) -> DatasetEntry:
    """Look a dataset up by name (case-insensitive)."""
    entry = find_dataset(name)
    if entry is None:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())} "
                                  f"(or all, {', '.join(CATEGORIES)})")
    return entry


def select_datasets(text: str) -> tuple[list[DatasetEntry], bool]:
    """The datasets a comma-separated selection names, in registry order without repeats, and whether any
    were named as a group (`all` or a category) rather than one by one."""
    chosen: list[DatasetEntry] = []
    grouped = False
    for word in (part.strip() for part in text.split(",")):
        if not word:
            continue
        key = word.lower()
        if key == "all":
            group: list[DatasetEntry] = list(DATASETS)
        elif key in CATEGORIES:
            group = [entry for entry in DATASETS if entry.category == key]
        else:
            group = [get_dataset(word)]
        grouped = grouped or key == "all" or key in CATEGORIES
        chosen.extend(entry for entry in group if entry not in chosen)
    return chosen, grouped


def missing_data(entry: DatasetEntry, data_root: Path | None = None) -> str | None:
    """One line naming the released files `entry` lacks under `data_root` (sources and targets of every
    subset), or None when they are all there."""
    root = data_root if data_root is not None else default_data_root()
    absent = [subset_path(root, entry.split_dir, subset) / name
              for subset in entry.subsets for name in (SOURCE_FILE, TARGET_FILE)
              if not (subset_path(root, entry.split_dir, subset) / name).is_file()]
    if not absent:
        return None
    more = f" (+{len(absent) - 1} more)" if len(absent) > 1 else ""
    return f"{entry.name}: no data file {absent[0]}{more}"


def missing_resources(entry: DatasetEntry, env_root: Path | None = None) -> str | None:
    """One line saying what `entry` lacks to run beyond its data (package, Java, game files, cache
    directory, sandbox), or None."""
    if entry.resources == "none":
        return None
    from clue.bench.envs.root import default_env_root

    root = env_root if env_root is not None else default_env_root()
    if entry.resources == "code_tests":
        try:
            from clue.bench.sandbox.bigcodebench import missing as code_tests_missing
        except ImportError:
            return f"{entry.name}: the sandboxed unit-test runner is not part of this build"
        reason: str | None = code_tests_missing(root)
        return reason
    return _missing_environment(entry, root)


def _missing_environment(entry: DatasetEntry, env_root: Path) -> str | None:
    from clue.bench.envs.registry import ENV_MODULES, env_spec

    module = ENV_MODULES.get(entry.name, entry.env)
    if module is None:
        return f"{entry.name}: no environment is registered for it"
    try:
        env = env_spec(entry.name)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return f"{entry.name}: its environment is not part of this build"
        return f"{entry.name} needs the Python package {exc.name!r} (pip install 'clue[agentic]')"
    except ImportError as exc:
        return f"{entry.name}: its environment cannot be imported ({str(exc).splitlines()[0]})"
    return env.missing(env_root)


def missing_to_run(entry: DatasetEntry, env_root: Path | None = None, data_root: Path | None = None) -> str | None:
    """What `entry` lacks to run here, data files first, or None when it can run."""
    return missing_data(entry, data_root) or missing_resources(entry, env_root)


def step_cap_of(name: str) -> int:
    """The step cap an agentic dataset's entry sets (what its environment enforces too)."""
    cap = get_dataset(name).solver.step_cap
    if cap is None:
        raise ValueError(f"dataset {name} has no step cap: it is not an agentic dataset")
    return cap
