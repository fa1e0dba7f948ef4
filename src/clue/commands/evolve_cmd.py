"""`clue evolve`: evolve the extraction prompt with CluE or a baseline under one budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clue.bench.data.records import Pair
from clue.bench.run.files import BEST_PROMPT
from clue.bench.run.results import Results
from clue.bench.run.rundir import ensure_run_dir
from clue.bench.run.runner import Runner
from clue.commands.common import GlobalOptions, console, options, run_async, run_sync, warn
from clue.errors import BadInputError
from clue.evolve.budget import Budget
from clue.evolve.protocol import EvolveSettings
from clue.llm.client import LLM

if TYPE_CHECKING:
    from clue.evolve.run import EvolutionOutcome


def evolve_command(
    ctx: typer.Context,
    method: str = typer.Option("clue", help="clue | memevolve | gepa | ace."),
    seed_prompt: str = typer.Option("simple", help="Prompt to evolve from (built-in name or file)."),
    datasets: str = typer.Option(..., help="Comma-separated datasets, a category or all (OOD sets are left "
                                 "out); training uses their split-file train ids."),
    rounds: int = typer.Option(None, min=1, help="Rounds (default 5)."),
    batch: int = typer.Option(None, min=1, help="Training pairs per round (default 35)."),
    candidates: int = typer.Option(None, min=1, help="Candidates synthesized per round (default 3)."),
    top: int = typer.Option(None, min=1, help="Finalists kept after the tournament (default 2)."),
    resample: int = typer.Option(None, min=0, help="Finals pairs resampled from this round's batch (default 10)."),
    max_clusters: int = typer.Option(None, min=1, help="Most clusters per round (default 7)."),
    seed: int = typer.Option(None, help="Random seed (default 42)."),
    budget_rollouts: int = typer.Option(None, min=1, help="Stop after this many new extract+solve rollouts."),
    budget_tokens: int = typer.Option(None, min=1, help="Stop after this many tokens across all roles."),
    budget_calls: int = typer.Option(None, min=1, help="Stop after this many LLM calls (cache hits are free)."),
    test_limit: int = typer.Option(None, min=1, help="At most N test pairs per dataset for the final comparison."),
    out: Path = typer.Option(..., help="Run dir: log.json (the run record), best_prompt.txt, lineage.json, rollouts."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in OUT."),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="Run model-written code even where no sandbox "
                                     "is available (no network or file-system isolation)."),
    executor: str = typer.Option("local", help="local | ray: run rollouts as Ray tasks (the `ray` extra); the "
                                               "run dir is written by this process only."),
    ray_address: str = typer.Option(None, help="Ray cluster address for --executor ray (default: start a "
                                               "local Ray instance)."),
) -> None:
    """Evolve an extraction prompt on training pairs, then compare seed and best on the test split.

    Every evolution setting is also a flag (below) and a key of clue.toml's [evolve] table; flags win.
    Defaults follow the paper's reference code; "paper:" names the value that restores it where clue differs.

    Example: clue evolve --method clue --datasets membench-high,GameOf24 --rounds 2 --batch 10 --out runs/evo
    """
    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()
    named = {"rounds": rounds, "batch": batch, "candidates": candidates, "top": top, "resample": resample,
             "max_clusters": max_clusters, "seed": seed}
    settings = run_sync(lambda: evolve_settings(opts, named, ctx.args))  # a bad setting: one line, exit 2
    request = EvolveRequest(method, seed_prompt, datasets, settings,
                            Budget(max_rollouts=budget_rollouts, max_tokens=budget_tokens, max_calls=budget_calls),
                            test_limit, out, resume, executor, ray_address)
    run_async(lambda: run_evolve(opts, request))


@dataclass(frozen=True)
class EvolveRequest:
    """What `clue evolve` was asked, flags and clue.toml resolved."""

    method: str
    seed_prompt: str
    datasets: str  # names, a category or all
    settings: EvolveSettings
    budget: Budget
    test_limit: int | None
    out: Path
    resume: bool
    executor: str = "local"
    ray_address: str | None = None


def evolve_settings(opts: GlobalOptions, named: Mapping[str, int | None], extra: list[str]) -> EvolveSettings:
    """clue.toml's [evolve] table, then the named flags, then the free `--knob value` flags."""
    from clue.evolve.settings_io import build, from_toml, parse_flags

    toml_path = opts.config or (Path("clue.toml") if Path("clue.toml").exists() else None)
    settings = build(from_toml(toml_path), {k: v for k, v in named.items() if v is not None}, parse_flags(extra))
    if settings.top > settings.candidates + 1:
        raise BadInputError(f"--top {settings.top}: more finalists than the {settings.candidates + 1} prompts in "
                            "the tournament")
    return settings


def load_split(opts: GlobalOptions, request: EvolveRequest) -> tuple[list[str], list[Pair], list[Pair]]:
    """(dataset names, train pairs, test pairs); refused in one line when there is nothing to train on."""
    from clue.bench.data.loader import load_pairs
    from clue.commands.dataset_choice import choose_datasets

    root = opts.resolved_data_root()
    names = [entry.name for entry in choose_datasets(request.datasets, "train", env_root=opts.resolved_env_root(),
                                                     data_root=root, warn=warn)]
    ensure_run_dir(request.out)
    train: list[Pair] = []
    test: list[Pair] = []
    for name in names:
        train.extend(load_pairs(root, name, "train", warn=warn))
        test.extend(load_pairs(root, name, "test", limit=request.test_limit, warn=warn))
    if not train:
        raise BadInputError(f"no training pairs for {', '.join(names)}: the split file lists none on disk")
    return names, train, test


async def run_evolve(opts: GlobalOptions, request: EvolveRequest) -> None:
    from clue.bench.ray_runner import check_executor, make_runner
    from clue.bench.solvers.registry import SolverOptions
    from clue.commands.dataset_choice import solver_overrides
    from clue.evolve.run import EvolutionJob, run_evolution
    from clue.evolve.watch import RichReporter
    from clue.memory.prompts import load_prompt

    check_executor(request.executor)
    overrides = solver_overrides(opts.config, (), ())  # read before the run dir is made
    names, train, test = load_split(opts, request)
    solver_options = SolverOptions(env_root=opts.resolved_env_root(), datasets=names, overrides=overrides)
    prompt = load_prompt(request.seed_prompt)
    llm = LLM(opts.settings())
    llm.on_notice = warn
    description = {"datasets": names, "data_root": opts.resolved_data_root(), "limit": request.test_limit}
    runner = make_runner(llm, solver_options, executor=request.executor, ray_address=request.ray_address) \
        if request.executor != "local" else None
    job = EvolutionJob(request.method, prompt, train, test, request.settings, request.budget, request.out,
                       resume=request.resume, description=description, solver_options=solver_options)
    try:
        outcome = await run_evolution(job, llm, runner=runner, reporter=RichReporter(console), warn=warn)
    finally:
        await llm.aclose()
    show_outcome(outcome, request.out)


def show_outcome(outcome: EvolutionOutcome, out: Path) -> None:
    from clue.report.tables import comparison_table, print_table

    console.print(f"stopped: {outcome.optimization.stopped_by}; budget used: {outcome.budget}", highlight=False)
    unusable = outcome.optimization.replies.describe()
    if unusable:
        warn(f"optimizer replies unusable after every re-ask (unusable/asked per step): {unusable}")
    if outcome.seed is not None and outcome.best is not None:
        print_table(comparison_table([outcome.seed, outcome.best], title="seed vs evolved on the test split"),
                    console)
        if outcome.best.gain_excluded:
            warn(f"relative gain leaves out {', '.join(outcome.best.gain_excluded)}: a score of 0 (or none) "
                 "there has no finite ratio")
    else:
        warn("no test pairs: skipped the seed-vs-evolved comparison")
    console.print(f"best prompt: {out / BEST_PROMPT}")


def _demo_settings() -> EvolveSettings:
    """The protocol's round shrunk to fit the embedded model's speed on 2 cores; one analyst call per cluster
    (logs in context) instead of the tool loop, which a 1.5B model drives poorly and slowly; short capped
    texts and section edits, which a 1.5B model writes far more reliably than a whole new prompt."""
    return EvolveSettings(rounds=1, batch=4, candidates=2, top=2, resample=2, max_clusters=2,
                          analysis_mode="context", analysis_text_chars=400, case_chars=1500,
                          synthesis_mode="edits", summary_chars=1500)


async def demo_evolution(llm: LLM, runner: Runner, train: list[Pair], held_out: list[Pair],
                         out: Path) -> tuple[Results, Results]:
    from clue.evolve.run import EvolutionJob, run_evolution
    from clue.evolve.watch import RichReporter
    from clue.memory.prompts import load_prompt

    job = EvolutionJob("clue", load_prompt("simple"), train, held_out, _demo_settings(), Budget(), out, resume=True)
    outcome = await run_evolution(job, llm, runner=Runner(llm, tasks=runner.tasks, info=runner.info),
                                  reporter=RichReporter(console))
    if outcome.seed is None or outcome.best is None:
        raise BadInputError("the demo evolution had no held-out pairs to compare on")
    return outcome.seed, outcome.best


def register(app: typer.Typer) -> None:
    from clue.evolve.settings_io import knob_help

    app.command("evolve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                epilog="Evolution settings (flags, or keys of clue.toml [evolve]):\n\n" + knob_help())(evolve_command)
