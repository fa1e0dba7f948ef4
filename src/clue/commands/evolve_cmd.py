"""`clue evolve`: evolve the extraction prompt with CluE or a baseline under one budget."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from clue.bench.data.records import Pair
from clue.bench.run.results import Results
from clue.bench.run.runlog import RoleSpec, RunSpec
from clue.bench.run.runner import Runner
from clue.commands.common import console, fail, options, run_async, warn
from clue.config import Settings
from clue.evolve.budget import Budget
from clue.evolve.progress import record_spec
from clue.evolve.protocol import EvolveSettings
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt


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
    out: Path = typer.Option(..., help="Run dir: log.json, state.json, best_prompt.txt, lineage.json, rollouts."),
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
    from clue.bench.data.loader import load_pairs
    from clue.bench.ray_runner import check_executor, make_runner
    from clue.bench.run.rundir import ensure_run_dir, run_dir_lock
    from clue.bench.run.runlog import check_resume
    from clue.bench.solvers.registry import SolverOptions
    from clue.commands.dataset_choice import choose_datasets, solver_overrides
    from clue.errors import BadInputError
    from clue.evolve.budget import Budget
    from clue.evolve.reporting import RichReporter
    from clue.evolve.run import run_evolution
    from clue.evolve.settings_io import build, from_toml, parse_flags
    from clue.llm.types import ROLES
    from clue.memory.prompts import load_prompt
    from clue.report.tables import comparison_table, print_table

    opts = options(ctx)
    if unsafe_code:
        from clue.bench.sandbox.isolation import allow_unsafe_code

        allow_unsafe_code()
    named = {"rounds": rounds, "batch": batch, "candidates": candidates, "top": top, "resample": resample,
             "max_clusters": max_clusters, "seed": seed}
    toml_path = opts.config or (Path("clue.toml") if Path("clue.toml").exists() else None)
    try:
        settings = build(from_toml(toml_path), {k: v for k, v in named.items() if v is not None},
                         parse_flags(ctx.args))
    except ValueError as exc:
        raise fail(str(exc)) from None

    if settings.top > settings.candidates + 1:
        raise fail(f"--top {settings.top}: more finalists than the {settings.candidates + 1} prompts in the "
                   "tournament")

    async def job() -> None:
        check_executor(executor)
        root = opts.resolved_data_root()
        names = [entry.name for entry in choose_datasets(datasets, "train", env_root=opts.resolved_env_root(),
                                                         data_root=root, warn=warn)]
        solver_options = SolverOptions(env_root=opts.resolved_env_root(), datasets=names,
                                       overrides=solver_overrides(opts.config, (), ()))
        ensure_run_dir(out)
        train: list[Pair] = []
        test: list[Pair] = []
        for name in names:
            train.extend(load_pairs(root, name, "train", warn=warn))
            test.extend(load_pairs(root, name, "test", limit=test_limit, warn=warn))
        if not train:
            raise BadInputError(f"no training pairs for {', '.join(names)}: the split file lists none on disk")
        role_settings = opts.settings()
        prompt = load_prompt(seed_prompt)
        budget = Budget(max_rollouts=budget_rollouts, max_tokens=budget_tokens, max_calls=budget_calls)
        llm = LLM(role_settings)
        llm.on_notice = warn
        try:
            with run_dir_lock(out):
                spec = run_spec(role_settings, method, prompt, settings, budget, names, str(root),
                                solvers=solver_options.as_dict())
                if resume:  # another model, endpoint or decoding than the run's is refused in one line
                    check_resume(out, spec, ROLES)
                if resume or not (out / "state.json").exists():  # a refused run leaves the old log alone
                    record_spec(out, spec)
                runner = make_runner(llm, solver_options, executor=executor, ray_address=ray_address) \
                    if executor != "local" else None
                outcome = await run_evolution(method, prompt, train, test, llm, settings, budget, out,
                                              resume=resume, reporter=RichReporter(console),
                                              solver_options=solver_options, runner=runner)
        finally:
            await llm.aclose()
        console.print(f"stopped: {outcome.optimization.stopped_by}; budget used: {outcome.budget}",
                      highlight=False)
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
        console.print(f"best prompt: {out / 'best_prompt.txt'}")

    run_async(job)


def run_spec(role_settings: Settings, method: str, prompt: ExtractionPrompt, settings: EvolveSettings,
             budget: Budget, datasets: list[str], data_root: str,
             solvers: dict[str, object] | None = None) -> RunSpec:
    """What was asked, every knob included: the roles, the seed prompt, the method's settings, the budget,
    the solvers' options with each dataset's solver settings."""
    from clue import __version__

    roles: dict[str, RoleSpec] = {name: RoleSpec(backend=cfg.backend, model=cfg.model, base_url=cfg.base_url,
                            temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed)
             for name, cfg in role_settings.roles.items()}
    return RunSpec(clue_version=__version__, command="evolve", roles=roles, data_root=data_root, split="train",
                   datasets=datasets, prompt_name=prompt.name, prompt_hash=prompt.hash, prompt_text=prompt.text,
                   method=method, settings={**asdict(settings), "budget": asdict(budget),
                                            **({"solvers": solvers} if solvers is not None else {})})


def _demo_settings() -> EvolveSettings:
    """The protocol's round shrunk to fit the embedded model's speed on 2 cores; one analyst call per cluster
    (logs in context) instead of the tool loop, which a 1.5B model drives poorly and slowly; short capped
    texts and section edits, which a 1.5B model writes far more reliably than a whole new prompt."""
    return EvolveSettings(rounds=1, batch=4, candidates=2, top=2, resample=2, max_clusters=2,
                          analysis_mode="context", analysis_text_chars=400, case_chars=1500,
                          synthesis_mode="edits", summary_chars=1500)


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
    from clue.evolve.settings_io import knob_help

    app.command("evolve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                epilog="Evolution settings (flags, or keys of clue.toml [evolve]):\n\n" + knob_help())(evolve_command)
