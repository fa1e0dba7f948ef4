"""`clue demo`: the main job on the embedded model, end to end on the built-in demo set.

It compares no-memory and `simple` (and any static prompt named with `--compare`) on demo pairs held out
from training, then evolves `simple` with a short CluE run on the other demo pairs and compares seed and
evolved on the held-out pairs. Everything goes through the same runner, cache and run dirs as `clue eval`
and `clue evolve`, so a second `clue demo` is served from the cache and an interrupted one continues where
it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clue.bench.data.records import Pair
from clue.commands.common import console, fail, options, run_async, warn
from clue.config import DEFAULT_SEED, seed_overrides

if TYPE_CHECKING:
    from clue.bench.run.results import Results
    from clue.bench.run.runner import Runner
    from clue.llm.client import LLM

# Always compared; `--compare` adds others (each costs the embedded model a few minutes on 2 cores).
STATIC_PROMPTS = ("no-memory", "simple")
# Demo answers are a letter or a number and memories are short: tight limits keep a CPU run to minutes.
# The solver answers greedily: sampled at 0.7, a 1.5B model's letter is a coin toss among the options it
# half-believes, which both adds lucky no-memory guesses and drops answers a memory made most likely.
# The extractor still samples, so `--seed` still gives another run. `--role solver.temperature=0.7` undoes it.
DEMO_DECODING = ("extractor.max_tokens=160", "solver.max_tokens=48", "solver.temperature=0",
                 "optimizer.max_tokens=640")


def demo_command(
    ctx: typer.Context,
    out: Path = typer.Option(None, help="Where the demo's run dirs go (default runs/demo; runs/demo-seed-N "
                             "with --seed N), continued when they are there.", show_default=False),
    evolve: bool = typer.Option(True, "--evolve/--no-evolve", help="Also run the short CluE evolution."),
    held_out: int = typer.Option(0, min=0, help="Held-out pairs to compare on, balanced across categories "
                                 "(0: all)."),
    seed: int = typer.Option(None, help=f"Sampling seed of every role (default {DEFAULT_SEED}): another seed, "
                             "another run."),
    compare: list[str] = typer.Option([], "--compare", help="Another built-in static prompt to compare on the "
                                      "held-out pairs (repeatable), e.g. factual-experiential: a few minutes each."),
) -> None:
    """Run the demo on the embedded default model (qwen2.5-coder-1.5b) with no network.

    Example: clue demo            (or: clue --model smollm2-135m demo --no-evolve, for a fast plumbing check)
    """
    from clue.bench.data.demo import demo_info, demo_task, load_demo_pairs, split_demo
    from clue.bench.run.results import with_gain
    from clue.bench.run.runner import Runner
    from clue.commands.demo_summary import memory_sentence, run_macro
    from clue.llm.client import LLM
    from clue.report.tables import comparison_table, print_table, usage_table

    opts = options(ctx)
    prompts = _static_prompts(compare)
    out = out or default_demo_out(seed)
    summary: list[str] = []
    seeds = () if seed is None else seed_overrides(seed)

    async def job() -> None:
        train, held = split_demo(load_demo_pairs())
        held = _balanced(held, held_out or len(held))
        llm = LLM(opts.settings((*DEMO_DECODING, *seeds)))
        runner = Runner(llm, tasks=demo_task, info=demo_info)
        try:
            static = await _run_static_prompts(llm, runner, held, out, prompts)
            simple = static[1]
            print_table(comparison_table([with_gain(r, simple) for r in static],
                                         title=f"demo: static prompts on {len(held)} held-out pairs"), console)
            summary.append(memory_sentence(run_macro("no memory", out / "no-memory"),
                                           run_macro("simple", out / "simple")))
            console.print(summary[-1], highlight=False)
            if evolve:
                from clue.commands.evolve_cmd import demo_evolution

                seed_results, best_results = await demo_evolution(llm, runner, train, held, out / "evolve")
                print_table(comparison_table([seed_results, with_gain(best_results, seed_results)],
                                             title="demo: seed vs evolved on held-out pairs"), console)
                summary.append(_evolution_summary(out / "evolve", seed_results, best_results))
                console.print(summary[-1], highlight=False)
        finally:
            await runner.aclose()
            await llm.aclose()
        print_table(usage_table(llm.ledger.snapshot(), title="LLM usage of this demo, all runs"), console)

    run_async(job, resume_hint="run the same clue demo again to continue")
    _write_demo_report(out, [out / name for name in prompts] + ([out / "evolve"] if evolve else []), summary)


def _write_demo_report(out: Path, ran: list[Path], summary: list[str]) -> None:
    from clue.report.html import write_report

    report = write_report(ran, out / "report.html", baseline_dir=out / "simple", title="clue demo",
                          summary=summary).path
    console.print(f"report: {report}", highlight=False)


def default_demo_out(seed: int | None) -> Path:
    """One folder per seed, so `clue demo --seed 1` after `clue demo` is another run, not a refused resume."""
    return Path("runs/demo") if seed in (None, DEFAULT_SEED) else Path(f"runs/demo-seed-{seed}")


def _static_prompts(compare: list[str]) -> tuple[str, ...]:
    from clue.memory.prompts import BUILTIN_PROMPTS

    for name in compare:
        if name not in BUILTIN_PROMPTS:
            raise fail(f"--compare {name!r}: not a built-in prompt ({', '.join(BUILTIN_PROMPTS)})")
    return tuple(dict.fromkeys((*STATIC_PROMPTS, *compare)))


async def _run_static_prompts(llm: LLM, runner: Runner, held: list[Pair], out: Path,
                              prompts: tuple[str, ...]) -> list[Results]:
    """Each static prompt on the held-out pairs, one run dir each (resumed when it is there)."""
    from clue.bench.run.evaluation import EvalPlan, run_plan
    from clue.memory.prompts import load_prompt
    from clue.report.progress import rollout_progress

    repeats = {p.dataset: 1 for p in held}
    static: list[Results] = []
    for name in prompts:
        plan = EvalPlan(load_prompt(name), held, repeats, {"datasets": ["demo"], "split": "held-out"})
        with rollout_progress(plan.total, f"demo: {name}") as on_rollout:
            static.append(await run_plan(llm, plan, out / name, resume=True, runner=runner,
                                         on_rollout=on_rollout, warn=warn, command="demo"))
    return static


def _evolution_summary(run_dir: Path, seed: Results, best: Results) -> str:
    from clue.commands.demo_summary import evolution_sentence, run_macro

    samples = "test_rollouts.jsonl"
    return evolution_sentence(run_macro(f"seed {seed.prompt_name}", run_dir, samples, seed.prompt_hash),
                              run_macro(f"evolved {best.prompt_name}", run_dir, samples, best.prompt_hash),
                              kept_seed=best.prompt_hash == seed.prompt_hash)


def _balanced(pairs: list[Pair], count: int) -> list[Pair]:
    """Take pairs round-robin across datasets so every category is represented."""
    by_dataset: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_dataset.setdefault(pair.dataset, []).append(pair)
    chosen: list[Pair] = []
    while len(chosen) < count and any(by_dataset.values()):
        for queue in by_dataset.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
