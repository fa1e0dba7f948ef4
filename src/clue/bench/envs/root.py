"""Where the environments' own files live (game files, PDDL problems, page sources, response caches).

Resolved like the data root: `--env-root`, else `$CLUE_ENV_ROOT`, else `../shared/agentic` beside the
checkout. A missing env root is not an error by itself: each environment says what it lacks.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT_ENV = "CLUE_ENV_ROOT"


def from_env_or_shared(variable: str, folder: str) -> Path:
    """`$variable`, else `../shared/<folder>` next to the repository root (how tests and CI find data)."""
    from_env = os.environ.get(variable)
    if from_env:
        return Path(from_env)
    repo_root = Path(__file__).resolve().parents[4]
    return (repo_root / ".." / "shared" / folder).resolve()


def default_env_root() -> Path:
    """`$CLUE_ENV_ROOT`, else `../shared/agentic` next to the repository root."""
    return from_env_or_shared(ENV_ROOT_ENV, "agentic")
