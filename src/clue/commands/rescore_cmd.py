"""`clue rescore`: re-score a reference solver-output file with our scorer and report agreement, or re-run
BigCodeBench solutions against their unit tests."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.commands.common import GlobalOptions, console, fail, options, run_sync, warn


def _data_root(opts: GlobalOptions) -> Path | None:
    """The data root if there is one: rescoring works without it, minus the same-dataset check."""
    try:
        return opts.resolved_data_root()
    except FileNotFoundError:
        warn("no data root: the file's tasks are not checked against the dataset's targets")
        return None


def rescore_command(
    ctx: typer.Context,
    dataset: str = typer.Option(..., help="Dataset the outputs belong to, e.g. GameOf24, AIME or bigcodebench."),
    outputs: Path = typer.Option(..., help="A reference `zero-shot/target_output.jsonl` file; for bigcodebench, "
                                           'lines {"task_id": "BigCodeBench/N", "solution": "<python source>"}.'),
    show: int = typer.Option(5, help="How many disagreements (or failed solutions) to print."),
    env_root: Path = typer.Option(None, envvar="CLUE_ENV_ROOT",
                                  help="Folder holding bigcodebench/ (default: ../shared/agentic beside the "
                                       "checkout; env CLUE_ENV_ROOT)."),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="Run solutions even where no sandbox is "
                                     "available (no network or file-system isolation)."),
    jobs: int = typer.Option(None, help="bigcodebench: solutions run at once (default: the number of CPUs)."),
    timeout: float = typer.Option(120.0, help="bigcodebench: wall-clock and CPU seconds per solution (the "
                                              "reference's hard timeout is 120)."),
) -> None:
    """Score a reference output file with clue's scorer; the last line is the agreement with its labels.
    For bigcodebench, run each solution's unit tests in the sandbox; the last line is `passed: K/M`.

    Example (from the data root):
    clue rescore --dataset AIME --outputs data_collection/train/AIME_2024/openai/Qwen3-32B/zero-shot/target_output.jsonl
    """
    from clue.bench.data.datasets import get_dataset
    from clue.bench.scorers.rescore import format_agreement, rescore_file
    from clue.errors import NotFoundError

    if not outputs.is_file():
        raise fail(f"{outputs}: file not found", code=NotFoundError.exit_code)
    opts = options(ctx)
    if run_sync(lambda: get_dataset(dataset)).name == "bigcodebench":
        run_sync(lambda: _rescore_code(outputs, env_root, show, unsafe_code, timeout, jobs))
        return
    report = run_sync(lambda: rescore_file(dataset, outputs, warn=warn, data_root=_data_root(opts)))
    for item in report.disagreements[:show]:
        console.print(f"disagree id={item.id}: ours={item.our_reward} theirs={item.their_label} "
                      f"answer={item.answer!r}", highlight=False, markup=False)
    console.print(format_agreement(report), highlight=False)


def _rescore_code(outputs: Path, env_root: Path | None, show: int, unsafe_code: bool, timeout: float,
                  jobs: int | None) -> None:
    import asyncio
    from dataclasses import replace

    from clue.bench.envs.root import default_env_root
    from clue.bench.sandbox.bigcodebench import CHECK_LIMITS
    from clue.bench.sandbox.isolation import Sandbox, allow_unsafe_code, require_isolation
    from clue.bench.sandbox.rescore_code import SolutionResult, format_passed, rescore_solutions

    if unsafe_code:
        allow_unsafe_code()
    require_isolation()
    if timeout <= 0:
        raise fail(f"--timeout must be positive, not {timeout}")
    if jobs is not None and jobs < 1:
        raise fail(f"--jobs must be at least 1, not {jobs}")
    sandbox = Sandbox(replace(CHECK_LIMITS, wall_seconds=timeout, cpu_seconds=max(1, int(timeout))), concurrency=jobs)

    async def run() -> list[SolutionResult]:
        return await rescore_solutions(outputs, env_root or default_env_root(), sandbox)

    results = asyncio.run(run())
    for result in [r for r in results if not r.outcome.passed][:show]:
        detail = result.outcome.detail.strip().splitlines()[0][:160] if result.outcome.detail.strip() else ""
        console.print(f"line {result.line} {result.task_id}: {result.outcome.status} {detail}".rstrip(),
                      highlight=False, markup=False, soft_wrap=True)
    console.print(format_passed(results), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("rescore")(rescore_command)
