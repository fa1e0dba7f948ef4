"""What every command shares: global options, clear one-line errors, running coroutines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from clue.config import ConfigError, Settings, load_settings, parse_role_overrides
from clue.llm.types import LLMError

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


@dataclass
class GlobalOptions:
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    config: Path | None = None
    roles: list[str] = field(default_factory=list)
    no_cache: bool = False
    data_root: Path | None = None

    def settings(self, command_defaults: tuple[str, ...] = ()) -> Settings:
        """`command_defaults` are ROLE.FIELD=VALUE items a command prefers; the user's --role items win."""
        return load_settings(self.config, cli={"backend": self.backend, "model": self.model,
                                               "base_url": self.base_url},
                             role_overrides=parse_role_overrides([*command_defaults, *self.roles]),
                             no_cache=self.no_cache)

    def resolved_data_root(self) -> Path:
        from clue.bench.loader import check_data_root, default_data_root

        root = self.data_root or default_data_root()
        check_data_root(root)
        return root


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; turn the errors users can act on into one clear line and exit code 2."""
    from clue.bench.datasets import NotRunnableError, UnknownDatasetError
    from clue.bench.evaluation import RunDirError
    from clue.bench.runner import RunAborted
    from clue.errors import ClueError

    try:
        return asyncio.run(make())
    except (ConfigError, UnknownDatasetError, NotRunnableError, RunDirError, RunAborted, LLMError,
            FileNotFoundError, FileExistsError, ValueError, ClueError) as exc:
        raise fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    except KeyboardInterrupt:
        raise fail("interrupted; finished rollouts are saved, continue with --resume") from None


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
