"""`clue report`: one self-contained HTML file of one or more run directories (eval and evolve)."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.commands.common import console, fail, run_sync, warn


def report_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (of `clue eval`, `clue evolve`, `clue demo`)."),
    out: Path = typer.Option(Path("report.html"), help="The HTML file to write."),
    baseline: Path = typer.Option(None, help="A run directory whose results the relative gain is taken over."),
    title: str = typer.Option(None, help="Page title (default: the runs' names)."),
    max_text_chars: int = typer.Option(20_000, help="Longer texts in transcripts are cut (head and tail kept)."),
) -> None:
    """Write one HTML file that opens offline: results with CIs, comparison table and heat map, evolution
    curves, lineage with diffs, cluster analyses, browsable transcripts and cost.

    Example: clue report runs/simple runs/fe runs/evo --baseline runs/simple --out report.html
    """
    from clue.report.html import write_report

    if max_text_chars < 200:
        raise fail(f"--max-text-chars {max_text_chars}: give at least 200")
    written = run_sync(lambda: write_report(list(run_dirs), out, baseline_dir=baseline, title=title,
                                            max_chars=max_text_chars))
    for message in written.warnings:
        warn(message)
    size = written.path.stat().st_size
    console.print(f"report: {written.path} ({written.rollouts} rollouts, {size / 1e6:.1f} MB)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
