"""`clue play`: play one agentic target by hand or from a file of actions, as the agent would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer
from rich.markup import escape

from clue.commands.common import err_console, fail, options, warn
from clue.errors import BadInputError, ClueError, NotFoundError

if TYPE_CHECKING:
    from clue.bench.envs.base import Environment, EnvSpec

STOP_WORDS = ("quit", "exit")


def play_command(
    ctx: typer.Context,
    dataset: str = typer.Option(..., help="An agentic dataset, e.g. alfworld, pddl, babyai, scienceworld, fever."),
    target_id: int = typer.Option(..., "--target-id", help="The target's id in the dataset's target.jsonl."),
    actions: Path = typer.Option(None, help="A file with one action per line, played in order; without it, "
                                            "actions are read from standard input (`valid` lists valid ones)."),
) -> None:
    """Play one target through its environment; the last line is `success: ... reward: ... steps: ...`.

    Example: clue play --dataset pddl --target-id 3 --actions moves.txt
    """
    opts = options(ctx)  # --data-root and --env-root are global options, accepted after `play` too
    try:
        spec, target = _load(dataset, target_id, opts.resolved_data_root())
        root = opts.resolved_env_root()
        reason = spec.missing(root)
        if reason is not None:
            raise _unavailable(reason)
        lines = _read_actions(actions) if actions is not None else _stdin_actions(sys.stdin)
        env = spec.make(root)
        try:
            if spec.goal is not None:
                typer.echo(f"Your goal: {spec.goal(target)}")
            _play(env, spec.step_cap, target, lines, interactive=actions is None)
            outcome = env.outcome()
        finally:
            env.close()
    except ClueError as exc:  # a missing resource or a failed environment: its own exit code
        err_console.print(f"[bold red]error:[/] {escape(str(exc).splitlines()[0])}", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    typer.echo(f"success: {str(outcome.success).lower()} reward: {outcome.reward:.3f} steps: {outcome.steps}")


def _unavailable(reason: str) -> ClueError:
    from clue.bench.envs.base import EnvironmentUnavailable

    return EnvironmentUnavailable(reason)


def _load(dataset: str, target_id: int, data_root: Path) -> tuple[EnvSpec, dict[str, Any]]:
    """The dataset's EnvSpec and the target line with `target_id`."""
    from clue.bench.data.datasets import get_dataset
    from clue.bench.data.loader import load_targets
    from clue.bench.envs.registry import ENV_MODULES, env_spec

    dataset_spec = get_dataset(dataset)
    if dataset_spec.name not in ENV_MODULES:
        known = ", ".join(sorted(ENV_MODULES))
        raise BadInputError(f"dataset {dataset_spec.name} has no environment to play; agentic datasets: {known}")
    try:
        spec = env_spec(dataset_spec.name)
    except ImportError as exc:
        raise _unavailable(f"{dataset_spec.name}: its environment cannot be loaded "
                           f"({str(exc).splitlines()[0]})") from None
    for targets in load_targets(data_root, dataset_spec.name, warn=warn).values():
        if target_id in targets:
            return spec, targets[target_id].model_dump()
    raise BadInputError(f"dataset {dataset_spec.name} has no target with id {target_id} under {data_root}")


def _read_actions(path: Path) -> Iterator[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not UTF-8 text") from None
    return (line.strip() for line in text.splitlines() if line.strip())


def _stdin_actions(stream: TextIO) -> Iterator[str]:
    for line in _typed_lines() if stream.isatty() else stream:
        action = line.strip()
        if action.lower() in STOP_WORDS:
            return
        if action:
            yield action


def _typed_lines() -> Iterator[str]:
    """Lines a person types at a `> ` prompt (with line editing), until end of input."""
    while True:
        try:
            yield input("> ")
        except EOFError:
            return


def _play(env: Environment, step_cap: int, target: dict[str, Any], lines: Iterator[str], *, interactive: bool) -> None:
    typer.echo(env.reset(target))
    steps = 0
    for action in lines:
        if action.lower() == "valid" and interactive:
            valid = env.valid_actions()
            typer.echo("\n".join(valid) if valid else "this environment does not list valid actions")
            continue
        result = env.step(action)
        steps += 1
        if not interactive:
            typer.echo(f"> {action}")
        if result.observation:
            typer.echo(result.observation)
        if result.done:
            break
        if steps >= step_cap:
            typer.echo(f"(step cap of {step_cap} reached)")
            break


def register(app: typer.Typer) -> None:
    app.command("play")(play_command)
