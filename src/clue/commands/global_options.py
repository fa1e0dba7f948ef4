"""Options that apply to every command, accepted both before and after the command's name.

`clue --model X eval ...` and `clue eval --model X ...` mean the same: every registered command gets the
global options added to its own signature, and a value given after the command wins.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_type_hints

import typer

from clue.commands.common import GlobalOptions

# name -> (annotation, typer option). Defaults are None: "not given here".
GLOBAL_OPTIONS: dict[str, tuple[Any, Any]] = {
    "backend": (str, typer.Option(None, help="LLM backend for every role: local | openai | scripted.")),
    "model": (str, typer.Option(None, help="Model for every role, e.g. qwen2.5-coder-1.5b or Qwen/Qwen3-32B.")),
    "base_url": (list[str], typer.Option(None, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1. "
                                                    "Repeat it for several servers of one model.")),
    "config": (Path, typer.Option(None, help="A clue.toml config file (default: ./clue.toml if present).")),
    "role": (list[str], typer.Option(None, help="Per-role setting ROLE.FIELD=VALUE, e.g. solver.model=gpt-4o. "
                                                "Repeatable.")),
    "no_cache": (bool, typer.Option(None, "--no-cache", help="Do not read or write the LLM response cache.",
                                    show_default=False)),
    "data_root": (Path, typer.Option(None, envvar="CLUE_DATA_ROOT",
                                     help="Folder holding BEHEMOTH's data_collection/ (env CLUE_DATA_ROOT).")),
    "env_root": (Path, typer.Option(None, envvar="CLUE_ENV_ROOT",
                                    help="Folder holding the agentic environments' files: game files, page "
                                         "sources, caches (env CLUE_ENV_ROOT; default ../shared/agentic).")),
}


def _merge(ctx: typer.Context, given: dict[str, Any]) -> None:
    """Values given after the command override those given before it."""
    base = ctx.find_object(GlobalOptions) or GlobalOptions()
    fields = {"backend": given.get("backend"), "model": given.get("model"), "base_url": given.get("base_url") or None,
              "config": given.get("config"), "data_root": given.get("data_root"), "env_root": given.get("env_root")}
    for name, value in fields.items():
        if value is not None:
            setattr(base, name, value)
    if given.get("role"):
        base.roles = [*base.roles, *given["role"]]
    if given.get("no_cache"):
        base.no_cache = True
    ctx.obj = base


def with_global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`command` with the global options added to its signature (and a typer.Context if it had none)."""
    signature = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
    context_name = next((p.name for p in own if p.annotation is typer.Context), None)
    extra: list[inspect.Parameter] = []
    if context_name is None:
        context_name = "_clue_ctx"
        extra.append(inspect.Parameter(context_name, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
    taken = {p.name for p in own}
    added = [name for name in GLOBAL_OPTIONS if name not in taken]
    extra += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=GLOBAL_OPTIONS[name][1],
                                annotation=GLOBAL_OPTIONS[name][0]) for name in added]
    keep_context = context_name in taken

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in added}
        ctx = kwargs[context_name] if keep_context else kwargs.pop(context_name)
        _merge(ctx, given)
        return command(*args, **kwargs)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # typer must read the new signature, not the old
    return wrapper


def add_global_options(app: typer.Typer) -> None:
    """Give every command registered on `app` the global options."""
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = with_global_options(info.callback)
