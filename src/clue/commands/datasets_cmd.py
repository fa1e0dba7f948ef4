"""`clue datasets`: the 18 BEHEMOTH datasets, and for each whether it can run with what is installed."""

from __future__ import annotations

import typer
from rich.table import Table

from clue.commands.common import console, options


def datasets_command(ctx: typer.Context) -> None:
    """List every known dataset with its category and split kind, and say what a dataset that cannot run
    lacks (a package, Java, game files, a cache directory).

    Example: CLUE_ENV_ROOT=~/agentic clue datasets
    """
    from clue.bench.data.datasets import DATASETS, missing_resources

    opts = options(ctx)
    root = opts.resolved_env_root()
    missing = {spec.name: missing_resources(spec, root, opts.data_root) for spec in DATASETS}
    table = Table(title="BEHEMOTH datasets")
    table.add_column("dataset", no_wrap=True, min_width=max(len(spec.name) for spec in DATASETS))
    for column in ("category", "split", "runnable"):
        table.add_column(column, no_wrap=True)
    for spec in DATASETS:
        table.add_row(spec.name, spec.category, "OOD" if spec.ood else "ID",
                      "yes" if missing[spec.name] is None else "no")
    console.print(table)
    lacking = [(name, reason) for name, reason in missing.items() if reason is not None]
    if lacking:
        console.print(f"what is missing (env root {root}):", highlight=False, markup=False, soft_wrap=True)
        for name, reason in lacking:
            line = reason if reason.startswith(name) else f"{name}: {reason}"
            console.print(f"- {line}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("datasets")(datasets_command)
