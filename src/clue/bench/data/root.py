"""Where the BEHEMOTH data lives: `$CLUE_DATA_ROOT`, else `../shared/behemoth` next to the repository."""

from __future__ import annotations

from pathlib import Path

from clue.bench.envs.root import from_env_or_shared

DATA_ROOT_ENV = "CLUE_DATA_ROOT"
SOLVER_MODEL_DIR = "openai/Qwen3-32B"  # every released file sits under <subset>/openai/Qwen3-32B/
SOURCE_FILE = "source_input.jsonl"
TARGET_FILE = "target.jsonl"


def default_data_root() -> Path:
    """`$CLUE_DATA_ROOT`, else `../shared/behemoth` next to the repository root."""
    return from_env_or_shared(DATA_ROOT_ENV, "behemoth")


def subset_path(data_root: Path, split_dir: str, subset: str) -> Path:
    """The directory of one subset's released files."""
    return data_root / "data_collection" / split_dir / subset / SOLVER_MODEL_DIR
