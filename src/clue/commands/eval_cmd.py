"""`clue eval`: evaluate one extraction prompt on BEHEMOTH datasets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clue.bench.run.files import LOG
from clue.bench.run.rundir import ensure_run_dir
from clue.commands.common import GlobalOptions, console, fail, options, run_async, warn
from clue.errors import BadInputError

if TYPE_CHECKING:
    from clue.bench.data.records import Pair
    from clue.bench.run.evaluation import EvalPlan
    from clue.bench.run.record import RunLog


def parse_datasets(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise fail("--datasets is empty; give names like membench-high,GameOf24 (see `clue datasets`)")
    return names


def check_runnable(names: list[str], env_root: Path) -> None:
    """Refuse, before any model call, datasets that are unknown or cannot run here (with what is missing:
    a package, Java, game files, a cache directory under `env_root`)."""
    from clue.bench.data.datasets import NotRunnableError, get_dataset, missing_resources

    for name in names:
        spec = get_dataset(name)
        reason = missing_resources(spec, env_root)
        if reason is not None:
            raise NotRunnableError(f"--datasets {spec.name}: cannot run here: {reason}")


@dataclass(frozen=True)
class EvalRequest:
    """What `clue eval` was asked, flags resolved."""

    prompt: str
    datasets: list[str]
    split: str
    limit: int | None
    repeats: int | None
    out: Path
    resume: bool
    baseline: Path | None
    max_failures: float
    env_pool: int | None


def eval_command(
    ctx: typer.Context,
    prompt: str = typer.Option("simple", help="Built-in prompt name, `no-memory`, or a prompt file."),
    datasets: str = typer.Option(..., help="Comma-separated dataset names (see `clue datasets`)."),
    split: str = typer.Option("test", help="train | test | ood | all."),
    limit: int = typer.Option(None, min=1, help="At most N pairs per dataset (the first N by id)."),
    repeats: int = typer.Option(None, min=1,
                                help="Runs per pair (default: 3, or 1 for sets of 200+ and LongMemEval)."),
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
) -> None:
    """Evaluate a prompt: extract memory from each source, solve its target with it, score.

    Example: clue eval --prompt simple --datasets membench-high,GameOf24 --split test --limit 5 --out runs/simple
    """
    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()
    request = EvalRequest(prompt, parse_datasets(datasets), split, limit, repeats, out, resume, baseline,
                          max_failures, env_pool)
    run_async(lambda: run_eval(opts, request))


def load_plan(opts: GlobalOptions, request: EvalRequest) -> EvalPlan:
    """The prompt and pairs to run, refused in one line before any model call when there are none."""
    from clue.bench.data.datasets import get_dataset
    from clue.bench.data.loader import load_pairs
    from clue.bench.data.split import default_repeats
    from clue.bench.run.evaluation import EvalPlan, repeats_for
    from clue.memory.prompts import load_prompt

    chosen = load_prompt(request.prompt)
    check_runnable(request.datasets, opts.resolved_env_root())
    names = [get_dataset(n).name for n in request.datasets]
    root = opts.resolved_data_root()
    ensure_run_dir(request.out)
    pairs: list[Pair] = []
    for name in names:
        found = load_pairs(root, name, request.split, limit=request.limit, warn=warn)  # type: ignore[arg-type]
        if not found:
            warn(f"dataset {name}: no {request.split} pairs under {root}")
        pairs.extend(found)
    if not pairs:
        raise BadInputError(f"no pairs to evaluate for {', '.join(request.datasets)} (split {request.split})")
    return EvalPlan(chosen, pairs, repeats_for(names, pairs, request.repeats, default_repeats),
                    {"datasets": names, "split": request.split, "limit": request.limit, "data_root": root})


async def run_eval(opts: GlobalOptions, request: EvalRequest) -> None:
    from clue.bench.run.evaluation import load_results, run_plan
    from clue.bench.run.record import read_runlog
    from clue.bench.run.results import check_failures
    from clue.bench.run.runner import Runner
    from clue.bench.solvers.registry import SolverOptions, SolverRegistry
    from clue.llm.client import LLM
    from clue.report.progress import rollout_progress

    plan = load_plan(opts, request)
    base = load_results(request.baseline) if request.baseline is not None else None
    llm = LLM(opts.settings())
    llm.on_notice = warn
    solver_options = SolverOptions(env_root=opts.resolved_env_root(), pool_size=request.env_pool)
    runner = Runner(llm, solvers=SolverRegistry(solver_options))
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
    check_failures(results, request.max_failures)


def show_run_tables(log: RunLog) -> None:
    from clue.report.tables import print_table, results_table, usage_table

    if log.results is not None:
        print_table(results_table(log.results), console)
    print_table(usage_table(log.usage), console)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
