"""The `clue` command line: eval, extract, rescore, evolve, demo, datasets, show, play, report, study."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer
from rich.markup import escape
from typer.models import ParameterInfo

from clue.commands import (
    datasets_cmd,
    demo_cmd,
    eval_cmd,
    evolve_cmd,
    extract_cmd,
    play_cmd,
    report_cmd,
    rescore_cmd,
    show_cmd,
    study_cmd,
)
from clue.commands.common import GlobalOptions
from clue.commands.global_options import add_global_options

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="clue: extract memory from conversations, measure it by downstream success, "
                       "and evolve the extraction prompt.")


def _version(show: bool) -> None:
    if show:
        from clue import __version__

        typer.echo(f"clue {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    backend: str = typer.Option(None, help="LLM backend for every role: local | openai | scripted."),
    model: str = typer.Option(None, help="Model for every role, e.g. qwen2.5-coder-1.5b or Qwen/Qwen3-32B."),
    base_url: list[str] = typer.Option([], help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1. "
                                                 "Repeat it for several servers of one model."),
    config: Path = typer.Option(None, help="A clue.toml config file (default: ./clue.toml if present)."),
    role: list[str] = typer.Option([], help="Per-role setting ROLE.FIELD=VALUE, e.g. solver.model=gpt-4o. "
                                            "Repeatable."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the LLM response cache."),
    data_root: Path = typer.Option(None, envvar="CLUE_DATA_ROOT",
                                   help="Folder holding BEHEMOTH's data_collection/ (env CLUE_DATA_ROOT)."),
    env_root: Path = typer.Option(None, envvar="CLUE_ENV_ROOT",
                                  help="Folder holding the agentic environments' files (env CLUE_ENV_ROOT)."),
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print clue's version and exit."),
) -> None:
    """Global options apply to every command; per-role settings come from clue.toml, CLUE_* env or --role."""
    ctx.obj = GlobalOptions(backend, model, base_url or None, config, role, no_cache, data_root, env_root=env_root)


for _module in (eval_cmd, extract_cmd, rescore_cmd, evolve_cmd, demo_cmd, datasets_cmd, show_cmd, play_cmd,
                report_cmd, study_cmd):
    _module.register(app)
add_global_options(app)


def _plain_help(typer_app: typer.Typer) -> None:
    """Help texts are plain text: escape what rich would read as markup ("clue.toml's [evolve] table")."""
    escaped: set[int] = set()  # option objects may be shared between commands: escape each once
    for info in typer_app.registered_commands:
        if info.callback is None:
            continue
        info.help = escape(info.help or inspect.getdoc(info.callback) or "")
        info.epilog = escape(info.epilog) if info.epilog else info.epilog
        for parameter in inspect.signature(info.callback).parameters.values():
            default = parameter.default
            if isinstance(default, ParameterInfo) and default.help and id(default) not in escaped:
                escaped.add(id(default))
                default.help = escape(default.help)


_plain_help(app)
