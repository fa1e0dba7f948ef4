"""`clue evolve`: evolve the extraction prompt with CluE or a baseline under one budget."""

from __future__ import annotations

from pathlib import Path

import typer

from clue.bench.records import Pair
from clue.bench.results import Results
from clue.bench.runner import Runner
from clue.commands.common import console, fail, options, run_async, warn
from clue.commands.eval_cmd import check_runnable, parse_datasets
from clue.evolve.protocol import EvolveSettings
from clue.llm.client import LLM


def evolve_command(
    ctx: typer.Context,
    method: str = typer.Option("clue", help="clue | memevolve | gepa | ace."),
    seed_prompt: str = typer.Option("simple", help="Prompt to evolve from (built-in name or file)."),
    datasets: str = typer.Option(..., help="Comma-separated datasets; training uses their split-file train ids."),
    rounds: int = typer.Option(5, min=1, help="Rounds."),
    batch: int = typer.Option(35, min=1, help="Training pairs per round."),
    candidates: int = typer.Option(3, min=1, help="Candidates synthesized per round."),
    top: int = typer.Option(2, min=1, help="Finalists kept after the tournament."),
    resample: int = typer.Option(10, min=0, help="Already-seen pairs resampled into the finals."),
    max_clusters: int = typer.Option(7, min=1, help="Most clusters in the persistent pool."),
    seed: int = typer.Option(42, help="Random seed for batching and resampling."),
    budget_rollouts: int = typer.Option(None, min=1, help="Stop after this many new extract+solve rollouts."),
    budget_tokens: int = typer.Option(None, min=1, help="Stop after this many tokens across all roles."),
    test_limit: int = typer.Option(None, min=1, help="At most N test pairs per dataset for the final comparison."),
    out: Path = typer.Option(..., help="Run dir: state.json, best_prompt.txt, lineage.json, rollouts."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in OUT."),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="Run model-written code even where no sandbox "
                                     "is available (no network or file-system isolation)."),
) -> None:
    """Evolve an extraction prompt on training pairs, then compare seed and best on the test split.

    Example: clue evolve --method clue --datasets membench-high,GameOf24 --rounds 2 --batch 10 --out runs/evo
    """
    from clue.bench.loader import load_pairs
    from clue.bench.rundir import ensure_run_dir, run_dir_lock
    from clue.errors import BadInputError
    from clue.evolve.budget import Budget
    from clue.evolve.reporting import RichReporter
    from clue.evolve.run import run_evolution
    from clue.memory.prompts import load_prompt
    from clue.report.tables import comparison_table, print_table

    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox import allow_unsafe_code

        allow_unsafe_code()
    names = parse_datasets(datasets)

    if top > candidates + 1:
        raise fail(f"--top {top}: more finalists than the {candidates + 1} prompts in the tournament")

    async def job() -> None:
        check_runnable(names)
        root = opts.resolved_data_root()
        ensure_run_dir(out)
        train: list[Pair] = []
        test: list[Pair] = []
        for name in names:
            train.extend(load_pairs(root, name, "train", warn=warn))
            test.extend(load_pairs(root, name, "test", limit=test_limit, warn=warn))
        if not train:
            raise BadInputError(f"no training pairs for {', '.join(names)}: the split file lists none on disk")
        llm = LLM(opts.settings())
        llm.on_notice = warn
        try:
            with run_dir_lock(out):
                outcome = await run_evolution(
                    method, load_prompt(seed_prompt), train, test, llm,
                    EvolveSettings(rounds=rounds, batch=batch, candidates=candidates, top=top, resample=resample,
                                   max_clusters=max_clusters, seed=seed),
                    Budget(max_rollouts=budget_rollouts, max_tokens=budget_tokens), out, resume=resume,
                    reporter=RichReporter(console))
        finally:
            await llm.aclose()
        console.print(f"stopped: {outcome.optimization.stopped_by}; budget used: {outcome.budget}",
                      highlight=False)
        if outcome.seed is not None and outcome.best is not None:
            print_table(comparison_table([outcome.seed, outcome.best], title="seed vs evolved on the test split"),
                        console)
        else:
            warn("no test pairs: skipped the seed-vs-evolved comparison")
        console.print(f"best prompt: {out / 'best_prompt.txt'}")

    run_async(job)


def _demo_settings() -> EvolveSettings:
    """The protocol's round shrunk to fit the embedded model's speed on 2 cores; one analyst call per cluster
    (logs in context) instead of the tool loop, which a 1.5B model drives poorly and slowly."""
    return EvolveSettings(rounds=1, batch=4, candidates=2, top=2, resample=2, max_clusters=2,
                          analysis_mode="context")


async def demo_evolution(llm: LLM, runner: Runner, train: list[Pair], held_out: list[Pair],
                         out: Path) -> tuple[Results, Results]:
    from clue.evolve.budget import Budget
    from clue.evolve.reporting import RichReporter
    from clue.evolve.run import run_evolution
    from clue.memory.prompts import load_prompt

    outcome = await run_evolution("clue", load_prompt("simple"), train, held_out, llm,
                                  _demo_settings(), Budget(), out, resume=True,
                                  reporter=RichReporter(console), tasks=runner.tasks, info=runner.info)
    if outcome.seed is None or outcome.best is None:
        raise ValueError("the demo evolution had no held-out pairs to compare on")
    return outcome.seed, outcome.best


def register(app: typer.Typer) -> None:
    app.command("evolve")(evolve_command)
