"""Where the environments' own files live (game files, PDDL problems, page sources, response caches).

Resolved like the data root: `--env-root`, else `$CLUE_ENV_ROOT`, else `../shared/agentic` beside the
checkout (an installed clue, which has no checkout, looks in `./shared/agentic`). A missing env root is not
an error by itself: each environment says what it lacks.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT_ENV = "CLUE_ENV_ROOT"


def checkout_root() -> Path | None:
    """The repository this package runs from (`src/clue/...` beside a pyproject.toml), or None when clue is
    installed (a wheel in site-packages)."""
    src = Path(__file__).resolve().parents[3]
    if src.name == "src" and (src.parent / "pyproject.toml").is_file():
        return src.parent
    return None


def from_env_or_shared(variable: str, folder: str) -> Path:
    """`$variable`, else `../shared/<folder>` next to the checkout (how tests and CI find data); installed,
    `./shared/<folder>` under the current directory."""
    from_env = os.environ.get(variable)
    if from_env:
        return Path(from_env)
    repo_root = checkout_root()
    if repo_root is None:
        return (Path.cwd() / "shared" / folder).resolve()
    return (repo_root / ".." / "shared" / folder).resolve()


def default_env_root() -> Path:
    """`$CLUE_ENV_ROOT`, else `../shared/agentic` next to the repository root."""
    return from_env_or_shared(ENV_ROOT_ENV, "agentic")
