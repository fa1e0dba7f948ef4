"""`clue rescore`: re-score a reference solver-output file with our scorer and report agreement."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.commands.common import console, fail, warn


def rescore_command(
    dataset: str = typer.Option(..., help="Dataset the outputs belong to, e.g. GameOf24 or AIME."),
    outputs: Path = typer.Option(..., help="A reference `zero-shot/target_output.jsonl` file."),
    show: int = typer.Option(5, help="How many disagreements to print."),
) -> None:
    """Score a reference output file with clue's scorer; the last line is the agreement with its labels.

    Example (from the data root):
    clue rescore --dataset AIME --outputs data_collection/train/AIME_2024/openai/Qwen3-32B/zero-shot/target_output.jsonl
    """
    from clue.bench.datasets import NotRunnableError, UnknownDatasetError
    from clue.bench.rescore import format_agreement, rescore_file

    if not outputs.is_file():
        raise fail(f"{outputs}: file not found")
    try:
        report = rescore_file(dataset, outputs, warn=warn)
    except (UnknownDatasetError, NotRunnableError, ValueError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    for item in report.disagreements[:show]:
        console.print(f"disagree id={item.id}: ours={item.our_reward} theirs={item.their_label} "
                      f"answer={item.answer!r}", highlight=False, markup=False)
    console.print(format_agreement(report), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("rescore")(rescore_command)
