"""Where the environments' own files live (game files, PDDL problems, page sources, response caches).

Resolved like the data root: `--env-root`, else `$CLUE_ENV_ROOT`, else `../shared/agentic` beside the
checkout. A missing env root is not an error by itself: each environment says what it lacks.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT_ENV = "CLUE_ENV_ROOT"


def default_env_root() -> Path:
    """`$CLUE_ENV_ROOT`, else `../shared/agentic` next to the repository root."""
    from_env = os.environ.get(ENV_ROOT_ENV)
    if from_env:
        return Path(from_env)
    repo_root = Path(__file__).resolve().parents[4]
    return (repo_root / ".." / "shared" / "agentic").resolve()
