"""What every command shares: global options, clear one-line errors, running coroutines."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from clue.config import Settings, load_settings, parse_role_overrides

T = TypeVar("T")
# soft_wrap: text is never hard-wrapped, so piped output (`clue extract ... | cat`) is the text itself.
# Without a terminal (piped, CI) rich would assume 80 columns and squeeze tables; give them room instead.
PIPED_WIDTH = 160
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


@dataclass
class GlobalOptions:
    backend: str | None = None
    model: str | None = None
    base_url: list[str] | None = None  # several: servers of one model, calls spread over them
    config: Path | None = None
    roles: list[str] = field(default_factory=list)
    no_cache: bool = False
    data_root: Path | None = None
    env_root: Path | None = None

    def settings(self, command_defaults: tuple[str, ...] = ()) -> Settings:
        """`command_defaults` are ROLE.FIELD=VALUE items a command prefers; the user's --role items win."""
        urls: str | list[str] | None = self.base_url or None
        if isinstance(urls, list) and len(urls) == 1:
            urls = urls[0]
        return load_settings(self.config, cli={"backend": self.backend, "model": self.model, "base_url": urls},
                             role_overrides=parse_role_overrides([*command_defaults, *self.roles]),
                             no_cache=self.no_cache)

    def resolved_data_root(self) -> Path:
        from clue.bench.data.loader import check_data_root, default_data_root

        root = self.data_root or default_data_root()
        check_data_root(root)
        return root

    def resolved_env_root(self) -> Path:
        """--env-root (before or after the command), else $CLUE_ENV_ROOT, else ../shared/agentic."""
        from clue.bench.envs.root import default_env_root

        return self.env_root or default_env_root()


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def _user_error(exc: BaseException) -> BaseException | None:
    """The error to show for `exc`: itself if a user can act on it, the first such one inside an exception
    group (concurrent work that failed), else None (a bug: let its traceback show)."""
    from clue.errors import ClueError

    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _user_error(inner)
            if found is not None:
                return found
        return None
    # Every clue error (datasets, config, run dirs, LLM endpoints, environments) is a ClueError; a file the
    # OS could not find or create is the user's to fix as well.
    return exc if isinstance(exc, ClueError | FileNotFoundError | FileExistsError) else None


def _exit_code(exc: BaseException) -> int:
    from clue.errors import ClueError

    return exc.exit_code if isinstance(exc, ClueError) else 2


INTERRUPTED = "interrupted; finished rollouts are saved, "
RESUME_HINT = "continue with --resume"


def run_sync(job: Callable[[], T], resume_hint: str = RESUME_HINT) -> T:
    """Run a command's body; errors a user can act on become one line and their exit code (clue.errors).

    SIGTERM is handled like Ctrl-C: the run stops where it is, keeps what finished, and says how to resume
    (`resume_hint`, for a command that continues without --resume).
    """
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return job()
    except KeyboardInterrupt:
        raise fail(INTERRUPTED + resume_hint, code=130) from None
    except BaseException as exc:
        found = _user_error(exc)
        if found is None:
            raise
        text = str(found).splitlines()[0] if str(found) else type(found).__name__
        raise fail(text, code=_exit_code(found)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_async(make: Callable[[], Coroutine[Any, Any, T]], resume_hint: str = RESUME_HINT) -> T:
    """Run a coroutine under `run_sync`'s error handling."""
    return run_sync(lambda: asyncio.run(make()), resume_hint)


def options(ctx: typer.Context) -> GlobalOptions:
    found = ctx.find_object(GlobalOptions)
    return found if found is not None else GlobalOptions()


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
