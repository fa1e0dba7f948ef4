"""`clue eval`: evaluate one extraction prompt on BEHEMOTH datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.commands.common import console, options, run_async, warn
from clue.errors import BadInputError


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
    from clue.bench.data.loader import count_sources, load_pairs
    from clue.bench.data.records import Pair
    from clue.bench.ray_runner import check_executor, make_runner
    from clue.bench.run.evaluation import EvalPlan, load_results, run_plan
    from clue.bench.run.failure_cause import failed_error_lines
    from clue.bench.run.results import Results, check_failures
    from clue.bench.run.rundir import ensure_run_dir, run_dir_lock
    from clue.bench.run.runlog import read_runlog
    from clue.bench.solvers.registry import SolverOptions
    from clue.commands.dataset_choice import choose_datasets, scored_split, solver_overrides
    from clue.commands.run_notice import announce_run, say
    from clue.llm.client import LLM
    from clue.memory.prompts import load_prompt
    from clue.report.progress import rollout_progress
    from clue.report.tables import print_table, results_table, usage_table

    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()

    async def job() -> None:
        check_executor(executor)
        chosen = load_prompt(prompt)
        chosen_split = scored_split(split)
        root = opts.resolved_data_root()
        specs = choose_datasets(datasets, chosen_split, env_root=opts.resolved_env_root(), data_root=root,
                                warn=warn)
        overrides = solver_overrides(opts.config, solver_max_tokens, solver_setting)
        ensure_run_dir(out)
        pairs: list[Pair] = []
        for spec in specs:
            found = load_pairs(root, spec.name, chosen_split, limit=limit, warn=warn)
            if not found:
                warn(f"dataset {spec.name}: no {split} pairs under {root}")
            pairs.extend(found)
        if not pairs:
            raise BadInputError(f"no pairs to evaluate for {datasets} (split {split})")
        runs = {spec.name: spec.repeats.runs_for(count_sources(root, spec.name, chosen_split), repeats)
                for spec in specs}
        plan = EvalPlan(chosen, pairs, runs, {"datasets": [s.name for s in specs], "split": split, "limit": limit})
        announce_run(opts.settings(), plan.pairs, plan.repeats_by_dataset, say=say, warn=warn)
        base = load_results(baseline) if baseline is not None else None
        llm = LLM(opts.settings())
        llm.on_notice = warn
        options = SolverOptions(env_root=opts.resolved_env_root(), pool_size=env_pool, overrides=overrides,
                                datasets=[spec.name for spec in specs])
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
        check_failures(results, max_failures, failed_error_lines(out / "rollouts.jsonl"))

    run_async(job)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
