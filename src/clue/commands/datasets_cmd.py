"""`clue datasets`: the 18 BEHEMOTH datasets and what this data root holds of them."""

from __future__ import annotations

import typer
from rich.table import Table

from clue.commands.common import console


def datasets_command() -> None:
    """List every known dataset with its category, split kind and whether clue can run it.

    Example: CLUE_DATA_ROOT=~/behemoth clue datasets
    """
    from clue.bench.datasets import DATASETS

    table = Table(title="BEHEMOTH datasets")
    for column in ("dataset", "category", "split", "runnable", "why not"):
        table.add_column(column)
    for spec in DATASETS:
        table.add_row(spec.name, spec.category, "OOD" if spec.ood else "ID", "yes" if spec.runnable else "no",
                      spec.not_runnable_reason)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("datasets")(datasets_command)
