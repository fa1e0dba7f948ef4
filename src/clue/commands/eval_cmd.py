"""`clue eval`: evaluate one extraction prompt on BEHEMOTH datasets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clue.bench.run.files import LOG, ROLLOUTS
from clue.bench.run.rundir import ensure_run_dir
from clue.commands.common import GlobalOptions, console, options, run_async, warn
from clue.errors import BadInputError

if TYPE_CHECKING:
    from clue.bench.data.records import Pair
    from clue.bench.run.evaluation import EvalPlan
    from clue.bench.run.record import RunLog
    from clue.bench.solvers.registry import SolverOptions


@dataclass(frozen=True)
class EvalRequest:
    """What `clue eval` was asked, flags resolved."""

    prompt: str
    datasets: str  # names, a category or all
    split: str
    limit: int | None
    repeats: int | None
    out: Path
    resume: bool
    baseline: Path | None
    max_failures: float
    env_pool: int | None
    solver_max_tokens: list[str]
    solver_setting: list[str]
    executor: str = "local"
    ray_address: str | None = None


def eval_command(
    ctx: typer.Context,
    prompt: str = typer.Option("simple", help="Built-in prompt name, `no-memory`, or a prompt file."),
    datasets: str = typer.Option(..., help="Comma-separated dataset names, a category (personalization, "
                                 "problem-solving, agentic) or all (see `clue datasets`)."),
    split: str = typer.Option("test", help="train | test | ood | benchmark (ID test plus OOD: both macros "
                                          "in one run)."),
    limit: int = typer.Option(None, min=1, help="At most N pairs per dataset (the first N by id)."),
    repeats: int = typer.Option(None, min=1,
                                help="Runs per source (default 3; 1 where a dataset has 200+ test sources, "
                                     "and for LongMemEval; GPQA at most 3)."),
    out: Path = typer.Option(..., help="Run directory: log.json (the run record), rollouts.jsonl, usage.jsonl."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run in OUT; finished rollouts are kept."),
    baseline: Path = typer.Option(None, help="A `simple` run dir (or results.json) to report relative gain."),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="Run model-written code even where no sandbox "
                                     "is available (no network or file-system isolation)."),
    max_failures: float = typer.Option(0.10, min=0.0, max=1.0,
                                       help="Exit non-zero when more than this share of rollouts failed for "
                                            "infrastructure reasons (endpoint, unparseable reply, timeout)."),
    env_pool: int = typer.Option(None, min=1, help="Live environments per agentic dataset (default: each "
                                                   "environment's own; separate from LLM concurrency)."),
    solver_max_tokens: list[str] = typer.Option([], "--solver-max-tokens", help="DATASET=N: the solver's "
                                                "reply limit for one dataset (repeatable; see docs/solvers.md)."),
    solver_setting: list[str] = typer.Option([], "--solver-setting", help="DATASET.FIELD=VALUE with FIELD "
                                             "max_tokens, stop, examples or step_cap (repeatable; in clue.toml: "
                                             "a datasets.NAME table)."),
    executor: str = typer.Option("local", help="local | ray: run rollouts as Ray tasks (the `ray` extra); the "
                                               "run dir is written by this process only."),
    ray_address: str = typer.Option(None, help="Ray cluster address for --executor ray (default: start a "
                                               "local Ray instance)."),
) -> None:
    """Evaluate a prompt: extract memory from each source, solve its target with it, score.

    Example: clue eval --prompt simple --datasets membench-high,GameOf24 --split test --limit 5 --out runs/simple
    """
    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()
    request = EvalRequest(prompt, datasets, split, limit, repeats, out, resume, baseline, max_failures, env_pool,
                          solver_max_tokens, solver_setting, executor, ray_address)
    run_async(lambda: run_eval(opts, request))


def load_plan(opts: GlobalOptions, request: EvalRequest) -> tuple[EvalPlan, SolverOptions]:
    """The prompt, pairs and solver options to run, refused in one line before any model call (and before the
    run dir is made) when something cannot be used."""
    from clue.bench.data.loader import count_sources, load_pairs
    from clue.bench.run.evaluation import EvalPlan
    from clue.bench.solvers.registry import SolverOptions
    from clue.commands.dataset_choice import choose_datasets, scored_split, solver_overrides
    from clue.memory.prompts import load_prompt

    chosen = load_prompt(request.prompt)
    split = scored_split(request.split)
    root = opts.resolved_data_root()
    specs = choose_datasets(request.datasets, split, env_root=opts.resolved_env_root(), data_root=root, warn=warn)
    overrides = solver_overrides(opts.config, request.solver_max_tokens, request.solver_setting)
    ensure_run_dir(request.out)
    pairs: list[Pair] = []
    for spec in specs:
        found = load_pairs(root, spec.name, split, limit=request.limit, warn=warn)
        if not found:
            warn(f"dataset {spec.name}: no {request.split} pairs under {root}")
        pairs.extend(found)
    if not pairs:
        raise BadInputError(f"no pairs to evaluate for {request.datasets} (split {request.split})")
    runs = {spec.name: spec.repeats.runs_for(count_sources(root, spec.name, split), request.repeats)
            for spec in specs}
    plan = EvalPlan(chosen, pairs, runs, {"datasets": [s.name for s in specs], "split": request.split,
                                          "limit": request.limit, "data_root": root})
    solvers = SolverOptions(env_root=opts.resolved_env_root(), pool_size=request.env_pool, overrides=overrides,
                            datasets=[spec.name for spec in specs])
    return plan, solvers


async def run_eval(opts: GlobalOptions, request: EvalRequest) -> None:
    from clue.bench.ray_runner import check_executor, make_runner
    from clue.bench.run.evaluation import load_results, run_plan
    from clue.bench.run.failure_cause import failed_error_lines
    from clue.bench.run.record import read_runlog
    from clue.bench.run.results import check_failures
    from clue.commands.run_notice import announce_run, say
    from clue.llm.client import LLM
    from clue.report.progress import rollout_progress

    check_executor(request.executor)
    plan, solver_options = load_plan(opts, request)
    announce_run(opts.settings(), plan.pairs, plan.repeats_by_dataset, say=say, warn=warn)
    base = load_results(request.baseline) if request.baseline is not None else None
    llm = LLM(opts.settings())
    llm.on_notice = warn
    runner = make_runner(llm, solver_options, executor=request.executor, ray_address=request.ray_address)
    try:
        with rollout_progress(plan.total, f"{plan.prompt.name} on {request.split}") as on_rollout:
            results = await run_plan(llm, plan, request.out, resume=request.resume, runner=runner,
                                     on_rollout=on_rollout, baseline=base, warn=warn,
                                     settings={"solvers": solver_options.as_dict()},
                                     max_failures=request.max_failures)
    finally:
        await runner.aclose()
        await llm.aclose()
    show_run_tables(read_runlog(request.out))  # the tables show what the run record holds
    console.print(f"run log: {request.out / LOG}")
    check_failures(results, request.max_failures, failed_error_lines(request.out / ROLLOUTS))


def show_run_tables(log: RunLog) -> None:
    from clue.report.tables import print_table, results_table, usage_table

    if log.results is not None:
        print_table(results_table(log.results), console)
    print_table(usage_table(log.usage), console)
    if len(log.usage_by_endpoint) > 1:
        print_table(usage_table(log.usage_by_endpoint, "LLM usage by endpoint", key="endpoint"), console)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
