"""`clue datasets`: the 18 BEHEMOTH datasets from their entries, and for each whether it can run here."""

from __future__ import annotations

import typer
from rich.table import Table

from clue.commands.common import console, options


def datasets_command(
    ctx: typer.Context,
    settings: bool = typer.Option(False, "--settings", help="Show each dataset's solver settings and scorer "
                                                            "instead (what a run records in its spec)."),
) -> None:
    """List every dataset with its category and split kind, and say what a dataset that cannot run lacks
    (its data files, a package, Java, game files, a cache directory, the sandbox).

    Example: CLUE_ENV_ROOT=~/agentic clue datasets
    """
    from clue.bench.data.datasets import DATASETS, missing_to_run
    from clue.bench.data.root import default_data_root

    if settings:
        console.print(_settings_table())
        return
    opts = options(ctx)
    env_root = opts.resolved_env_root()
    data_root = opts.data_root or default_data_root()  # listed even when it is absent
    missing = {entry.name: missing_to_run(entry, env_root, data_root) for entry in DATASETS}
    table = Table(title="BEHEMOTH datasets")
    table.add_column("dataset", no_wrap=True, min_width=max(len(entry.name) for entry in DATASETS))
    for column in ("category", "split", "runnable"):
        table.add_column(column, no_wrap=True)
    for entry in DATASETS:
        table.add_row(entry.name, entry.category, "OOD" if entry.ood else "ID",
                      "yes" if missing[entry.name] is None else "no")
    console.print(table)
    lacking = [(name, reason) for name, reason in missing.items() if reason is not None]
    if lacking:
        console.print(f"what is missing (data root {data_root}, env root {env_root}):", highlight=False,
                      markup=False, soft_wrap=True)
        for name, reason in lacking:
            line = reason if reason.startswith(name) else f"{name}: {reason}"
            console.print(f"- {line}", highlight=False, markup=False, soft_wrap=True)


def _settings_table() -> Table:
    from clue.bench.data.datasets import DATASETS

    table = Table(title="solver settings per dataset (override: --solver-setting, clue.toml datasets.NAME)",
                  caption="runs: per test source; once where a dataset has 200 or more test sources")
    for column in ("dataset", "solver", "memory in", "max tokens", "stop", "examples", "steps", "runs",
                   "scorer"):
        table.add_column(column, no_wrap=column != "scorer")
    for entry in DATASETS:
        solver, rule = entry.solver, entry.repeats
        runs = "1" if rule.single_run else f"{rule.runs}" + (f", max {rule.max_runs}" if rule.max_runs else "")
        table.add_row(entry.name, solver.kind, solver.memory_placement, str(solver.max_tokens),
                      " ".join(repr(s) for s in solver.stop) or "-", _or_dash(solver.examples),
                      _or_dash(solver.step_cap), runs, entry.scorer.description)
    return table


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def register(app: typer.Typer) -> None:
    app.command("datasets")(datasets_command)
