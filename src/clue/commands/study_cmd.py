"""`clue study plan|run|tables`: the paper's grid of eval and evolve runs from one study file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table as RichTable

from clue.commands.common import GlobalOptions, console, fail, options, run_sync, warn
from clue.config import Settings, load_settings, parse_role_overrides
from clue.errors import BadInputError
from clue.study.spec import StudyFile

study_app = typer.Typer(no_args_is_help=True, help="Plan, run and tabulate a study: the paper's grid of "
                        "static prompts x datasets and optimizers x seeds (see docs/study.md).")
ROLE_ORDER = ("extractor", "solver", "judge", "optimizer")


def _several_base_urls() -> bool:
    """Whether this clue's --base-url may be repeated (several endpoints for one model)."""
    from typing import get_origin

    from clue.commands.global_options import GLOBAL_OPTIONS

    return get_origin(GLOBAL_OPTIONS["base_url"][0]) is list


def global_args(opts: GlobalOptions, study_config: Path, endpoints: list[str]) -> list[str]:
    """The global options every cell's `clue` process gets: the study's config, then the user's flags."""
    args = ["--config", str(study_config.resolve()), "--data-root", str(opts.resolved_data_root().resolve()),
            "--env-root", str(opts.resolved_env_root().resolve())]
    if opts.backend:
        args += ["--backend", opts.backend]
    if opts.model:
        args += ["--model", opts.model]
    given: object = opts.base_url  # one URL, or a list where --base-url may be repeated
    urls = [str(u) for u in given] if isinstance(given, list | tuple) else [str(given)] if given else endpoints
    if urls and not _several_base_urls():
        if len(urls) > 1:
            warn(f"{len(urls)} endpoints given; this clue sends every call to one base URL, so the study uses "
                 f"the first ({urls[0]})")
        urls = urls[:1]
    for url in urls:
        args += ["--base-url", url]
    for item in opts.roles:
        args += ["--role", item]
    return [*args, *(["--no-cache"] if opts.no_cache else [])]


def study_settings(opts: GlobalOptions, config_text: str) -> Settings:
    """The roles a cell will run with (checked before anything is written)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clue.toml"
        path.write_text(config_text, encoding="utf-8")
        return load_settings(path, cli={"backend": opts.backend, "model": opts.model, "base_url": opts.base_url},
                             role_overrides=parse_role_overrides(opts.roles), no_cache=opts.no_cache)


def _load(study_file: Path, opts: GlobalOptions) -> tuple[StudyFile, Settings]:
    from clue.study.spec import config_toml, read_study_file

    study = read_study_file(study_file)
    if opts.config is not None:
        raise BadInputError(f"--config {opts.config}: a study takes its roles from its own [llm] tables "
                            f"({study_file}); move them there")
    return study, study_settings(opts, config_toml(study))


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _role_cell(load: object | None) -> str:
    from clue.study.plan import RoleLoad

    return "-" if not isinstance(load, RoleLoad) else f"{_count(load.calls)} / {_count(load.tokens)}"


def plan_table(plan: object, tokens_per_s: float) -> RichTable:
    from clue.study.plan import StudyPlan

    assert isinstance(plan, StudyPlan)
    table = RichTable(title="study plan: LLM calls / tokens (prompt + completion) per role")
    for column in ("cell", "basis", "pairs x repeats", "rollouts", *ROLE_ORDER, "time"):
        table.add_column(column, justify="left" if column in ("cell", "basis") else "right", no_wrap=True)
    for cell in plan.cells:
        table.add_row(cell.cell.name, cell.basis if cell.status == "missing" else f"{cell.basis} ({cell.status})",
                      f"{cell.pairs} x {cell.repeats}", f"{cell.rollouts:,}",
                      *(_role_cell(cell.roles.get(r)) for r in ROLE_ORDER), _hours(cell.tokens / tokens_per_s))
    totals = plan.totals()
    table.add_section()
    table.add_row("TOTAL", "", "", f"{plan.rollouts:,}", *(_role_cell(totals.get(r)) for r in ROLE_ORDER),
                  _hours(plan.tokens / tokens_per_s))
    return table


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


@study_app.command("plan")
def plan_command(
    ctx: typer.Context,
    study_file: Path = typer.Argument(..., help="The study file (study.toml)."),
    tokens_per_s: float = typer.Option(2000.0, min=1e-6, help="Throughput (prompt + completion tokens per "
                                                               "second over all endpoints) for the time column."),
    out: Path = typer.Option(None, help="A study directory: its finished cells' measured averages are used."),
) -> None:
    """Print each cell's rollouts, LLM calls and tokens per role, and the time at --tokens-per-s; no call made.

    Example: clue study plan docs/study.paper.toml --tokens-per-s 5000
    """
    from clue.study.cells import build_cells
    from clue.study.plan import make_plan

    opts = options(ctx)

    def job() -> None:
        study, settings = _load(study_file, opts)
        cells = build_cells(study, out or Path("study-out"), study_file.parent)
        plan = make_plan(study, cells, settings, opts.resolved_data_root(), out, warn)
        console.print(plan_table(plan, tokens_per_s))
        totals = plan.totals()
        per_role = ", ".join(f"{r} {totals[r].calls:,.0f} calls / {totals[r].tokens:,.0f} tokens"
                             for r in ROLE_ORDER if r in totals)
        console.print(f"total: {len(plan.cells)} cells, {plan.rollouts:,} rollouts; {per_role}; "
                      f"{plan.tokens:,.0f} tokens = {_hours(plan.tokens / tokens_per_s)} at {tokens_per_s:g} "
                      "tokens/s", highlight=False)

    run_sync(job)


@study_app.command("run")
def run_command(
    ctx: typer.Context,
    study_file: Path = typer.Argument(..., help="The study file (study.toml)."),
    out: Path = typer.Option(..., help="Study directory: cells/NAME run dirs, logs/, the shared cache."),
    resume: bool = typer.Option(False, "--resume", help="Continue the study in OUT; finished cells are kept."),
    parallel: int = typer.Option(1, min=1, help="Cells run at once (each one's own rollouts run concurrently up "
                                                "to the endpoints' concurrency; more cells fill the tails)."),
    executor: str = typer.Option("local", help="local | ray: every cell runs its rollouts as Ray tasks "
                                               "(the `ray` extra)."),
    ray_address: str = typer.Option(None, help="Ray cluster address for --executor ray (default: a local "
                                               "Ray instance per cell)."),
) -> None:
    """Run every cell as an ordinary run directory under OUT/cells (one progress line per cell, with an ETA).

    Example: clue --backend openai --base-url http://gpu1:8000/v1 study run study.toml --out runs/study
    """
    from clue.bench.ray_runner import check_executor
    from clue.study.cells import build_cells
    from clue.study.execute import CONFIG, prepare_study_dir, run_cells
    from clue.study.plan import make_plan

    opts = options(ctx)

    def job() -> None:
        check_executor(executor)
        study, settings = _load(study_file, opts)
        args = global_args(opts, out / CONFIG, [e.url for e in study.endpoints])
        ray_args = ("--executor", "ray", *(("--ray-address", ray_address) if ray_address else ()))
        cells = build_cells(study, out, study_file.parent.resolve(), executor=ray_args if executor == "ray" else ())
        plan = make_plan(study, cells, settings, opts.resolved_data_root(), None, lambda _: None)
        prepare_study_dir(out, study, args, resume=resume)
        console.print(f"study {study.name}: {len(cells)} cells, {plan.rollouts:,} rollouts planned; out: {out}",
                      highlight=False)
        run_cells(cells, out, args, limit=study.limit, no_cache=opts.no_cache, parallel=parallel,
                  planned={p.cell.name: p.rollouts for p in plan.cells}, say=lambda line: console.print(
                      line, highlight=False))
        console.print(f"done: clue study tables {out}", highlight=False)

    run_sync(job)


@study_app.command("tables")
def tables_command(
    study_dir: Path = typer.Argument(..., help="A study directory (of `clue study run`)."),
    format: str = typer.Option("md", "--format", help="md | csv | tex."),
    out: Path = typer.Option(None, help="Write to this file instead of printing."),
) -> None:
    """The paper's tables from the finished cells; cells not finished are marked, never dropped.

    Example: clue study tables runs/study --format tex --out tables.tex
    """
    from clue.study.tables import render, study_tables

    if format not in ("md", "csv", "tex"):
        raise fail(f"--format {format!r}: expected md, csv or tex")

    def job() -> None:
        text = render(study_tables(study_dir), format)  # type: ignore[arg-type]
        if out is None:
            console.print(text, highlight=False, markup=False)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"tables: {out}", highlight=False)

    run_sync(job)


def register(app: typer.Typer) -> None:
    from clue.commands.global_options import add_global_options

    add_global_options(study_app)
    app.add_typer(study_app, name="study")
