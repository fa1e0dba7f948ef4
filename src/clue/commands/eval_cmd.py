"""`clue eval`: evaluate one extraction prompt on BEHEMOTH datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.commands.common import console, fail, options, run_async, warn
from clue.errors import BadInputError


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


def eval_command(
    ctx: typer.Context,
    prompt: str = typer.Option("simple", help="Built-in prompt name, `no-memory`, or a prompt file."),
    datasets: str = typer.Option(..., help="Comma-separated dataset names (see `clue datasets`)."),
    split: str = typer.Option("test", help="train | test | ood | all."),
    limit: int = typer.Option(None, min=1, help="At most N pairs per dataset (the first N by id)."),
    repeats: int = typer.Option(None, min=1,
                                help="Runs per pair (default: 3, or 1 for sets of 200+ and LongMemEval)."),
    out: Path = typer.Option(..., help="Run directory for rollouts.jsonl, results.json, usage.json."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run in OUT; finished rollouts are kept."),
    baseline: Path = typer.Option(None, help="A `simple` run dir (or results.json) to report relative gain."),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="Run model-written code even where no sandbox "
                                     "is available (no network or file-system isolation)."),
    max_failures: float = typer.Option(0.10, min=0.0, max=1.0,
                                       help="Exit non-zero when more than this share of rollouts failed for "
                                            "infrastructure reasons (endpoint, unparseable reply, timeout)."),
    env_pool: int = typer.Option(None, min=1, help="Live environments per agentic dataset (default: each "
                                                   "environment's own; separate from LLM concurrency)."),
    executor: str = typer.Option("local", help="local | ray: run rollouts as Ray tasks (the `ray` extra); the "
                                               "run dir is written by this process only."),
    ray_address: str = typer.Option(None, help="Ray cluster address for --executor ray (default: start a "
                                               "local Ray instance)."),
) -> None:
    """Evaluate a prompt: extract memory from each source, solve its target with it, score.

    Example: clue eval --prompt simple --datasets membench-high,GameOf24 --split test --limit 5 --out runs/simple
    """
    from clue.bench.data.datasets import get_dataset
    from clue.bench.data.loader import load_pairs
    from clue.bench.data.records import Pair
    from clue.bench.data.split import default_repeats
    from clue.bench.ray_runner import check_executor, make_runner
    from clue.bench.run.evaluation import EvalPlan, load_results, repeats_for, run_plan
    from clue.bench.run.results import Results, check_failures
    from clue.bench.run.rundir import ensure_run_dir, run_dir_lock
    from clue.bench.run.runlog import read_runlog
    from clue.bench.solvers.registry import SolverOptions
    from clue.llm.client import LLM
    from clue.memory.prompts import load_prompt
    from clue.report.progress import rollout_progress
    from clue.report.tables import print_table, results_table, usage_table

    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()
    names = parse_datasets(datasets)

    async def job() -> None:
        check_executor(executor)
        chosen = load_prompt(prompt)
        check_runnable(names, opts.resolved_env_root())
        specs = [get_dataset(n) for n in names]
        root = opts.resolved_data_root()
        ensure_run_dir(out)
        pairs: list[Pair] = []
        for spec in specs:
            found = load_pairs(root, spec.name, split, limit=limit, warn=warn)  # type: ignore[arg-type]
            if not found:
                warn(f"dataset {spec.name}: no {split} pairs under {root}")
            pairs.extend(found)
        if not pairs:
            raise BadInputError(f"no pairs to evaluate for {', '.join(names)} (split {split})")
        plan = EvalPlan(chosen, pairs, repeats_for([s.name for s in specs], pairs, repeats, default_repeats),
                        {"datasets": [s.name for s in specs], "split": split, "limit": limit})
        base = load_results(baseline) if baseline is not None else None
        llm = LLM(opts.settings())
        llm.on_notice = warn
        options = SolverOptions(env_root=opts.resolved_env_root(), pool_size=env_pool)
        runner = make_runner(llm, options, executor=executor, ray_address=ray_address)
        try:
            with run_dir_lock(out), rollout_progress(plan.total, f"{chosen.name} on {split}") as on_rollout:
                results = await run_plan(llm, plan, out, resume=resume, runner=runner, on_rollout=on_rollout,
                                         baseline=base, warn=warn, data_root=root,
                                         settings={"solvers": options.as_dict()})
        finally:
            await runner.aclose()
            await llm.aclose()
        log = read_runlog(out)  # the tables show what the run log holds
        if log.results is not None:
            print_table(results_table(Results.model_validate(log.results)), console)
        print_table(usage_table(log.usage), console)
        console.print(f"run log: {out / 'log.json'}")
        check_failures(results, max_failures)

    run_async(job)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
