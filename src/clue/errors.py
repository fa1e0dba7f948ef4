"""The errors a user can act on, each mapped once to an exit code (see `clue.commands.common`).

Anything else that escapes a command is a bug and keeps its traceback.
"""

from __future__ import annotations


class ClueError(Exception):
    """Base of every user-facing error. The message is one line and names the culprit."""

    exit_code = 1


class BadInputError(ClueError):
    """A flag, file, record or setting that cannot be used as given."""

    exit_code = 2


class NotFoundError(BadInputError, FileNotFoundError):
    """A file, directory, dataset, run or resource that is not there."""

    exit_code = 3


class UpstreamError(ClueError):
    """An LLM endpoint, environment or sandbox failed for good."""

    exit_code = 4


class TransientError(UpstreamError):
    """A failure that may pass if retried later (connection refused, 429, 5xx, timeout)."""

    exit_code = 5


class RolloutBugError(ClueError):
    """Code raised something that is no clue error while running a rollout: a bug, never a score. The run
    stops and names the rollout."""

    exit_code = 1


class RunIncompleteError(ClueError):
    """A run finished, but too many rollouts failed for infrastructure reasons to trust its scores."""

    exit_code = 6
