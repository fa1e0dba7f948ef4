"""Calibrate the built-in demo pairs on an embedded model: which pairs does memory decide?

    .venv/bin/python perf/demo_calibration.py [--model qwen2.5-coder-1.5b] [--runs 6] [--seed 1000]
        [--solver-temperature 0.7] [--prompts simple,factual-experiential] [--pairs demo-pers-01,...]
        [--out runs/demo-calibration]

Per pair and run, the demo's solver (same prompts, limits and answer grammar as `clue demo`) answers
the target with: no memory; the oracle memory (the one fact or trick the pair was written around, the
record's `oracle`); and the memory each static extraction prompt writes from the source. Run r uses the
sampling seeds of repeat r. The selection samples the solver's answer (temperature 0.7, the reference's)
so that it measures how often each pair is solved, not one draw. `clue demo` answers greedily; with
`--solver-temperature 0 --runs 1` the no-memory answers are the demo's, at any seed. A pair is kept when
the oracle solves it and no memory does not, each in at least 2/3 of the runs (4 of 6 by default). Every
answer goes to `OUT/calibration.jsonl` as it is scored (one line per pair, condition and run), and replies
are cached in `OUT/cache.sqlite`, so an interrupted calibration continues where it stopped. Ends with a
markdown table: per pair, solved / ran per condition and the verdict, then per category how many pairs are
kept (`--report-only` prints it for what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from clue.bench.data.demo import (
    DEMO_REASONING_CHARS,
    DemoRecord,
    DemoTask,
    demo_info,
    load_demo_pairs,
    load_demo_records,
)
from clue.bench.data.records import Pair
from clue.bench.run.runner import Runner
from clue.bench.scorers.tasks import score_episode
from clue.bench.solvers.base import SolveContext
from clue.commands.demo_cmd import DEMO_DECODING
from clue.config import load_settings, parse_role_overrides, seed_overrides
from clue.llm.cache import ResponseCache
from clue.llm.client import LLM
from clue.llm.weights import MODELS
from clue.memory.extract import extract_memory
from clue.memory.prompts import BUILTIN_PROMPTS, load_prompt

CONTROL_CONDITIONS = ("no-memory", "oracle")


async def memory_for(llm: LLM, condition: str, record: DemoRecord, pair: Pair, run: int) -> str:
    if condition == "no-memory":
        return ""
    if condition == "oracle":
        return record.oracle
    return (await extract_memory(llm, load_prompt(condition), pair.source, repeat=run)).memory


async def solve_once(llm: LLM, runner: Runner, condition: str, record: DemoRecord, pair: Pair,
                     run: int, task: DemoTask) -> dict[str, Any]:
    memory = await memory_for(llm, condition, record, pair, run)
    episode = await runner.solvers(pair.dataset).solve(pair, memory, SolveContext(llm, repeat=run, task=task))
    score = await score_episode(task, pair, episode, None)
    return {"pair_id": record.pair_id, "category": record.category, "condition": condition, "run": run,
            "solved": score.reward >= 1.0, "reply": episode.final_text, "detail": score.detail, "memory": memory}


def done_lines(path: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(row["pair_id"], row["condition"], row["run"]): row for row in rows}


async def calibrate(args: argparse.Namespace) -> dict[tuple[str, str, int], dict[str, Any]]:
    args.out.mkdir(parents=True, exist_ok=True)
    lines = args.out / "calibration.jsonl"
    results = done_lines(lines)
    decoding = [*DEMO_DECODING, *([f"solver.max_tokens={args.solver_max_tokens}"] if args.solver_max_tokens else []),
                f"solver.temperature={args.solver_temperature}", *seed_overrides(args.seed)]
    settings = load_settings(env={}, cli={"backend": "local", "model": args.model}, no_cache=True,
                             role_overrides=parse_role_overrides(decoding))
    llm = LLM(settings, cache=ResponseCache(args.out / "cache.sqlite"))
    task = DemoTask(reasoning_chars=args.reasoning_chars)
    runner = Runner(llm, tasks=lambda dataset: task, info=demo_info)
    records = {r.pair_id: r for r in load_demo_records()}
    pairs = [p for p in load_demo_pairs() if not args.pairs or p.target["pair_id"] in args.pairs]
    started = time.perf_counter()
    try:
        with lines.open("a", encoding="utf-8") as sink:
            for condition in [*args.controls, *args.prompts]:
                for pair in pairs:
                    for run in range(args.runs):
                        key = (pair.target["pair_id"], condition, run)
                        if key in results:
                            continue
                        row = await solve_once(llm, runner, condition, records[key[0]], pair, run, task)
                        results[key] = row
                        sink.write(json.dumps(row) + "\n")
                        sink.flush()
                        print(f"[{time.perf_counter() - started:6.0f} s, load {os.getloadavg()[0]:.1f}] "
                              f"{condition:22} {key[0]} run {run}: {'solved' if row['solved'] else 'wrong'} "
                              f"({row['detail'][:50]})", flush=True)
    finally:
        await llm.aclose()
    return results


def kept(solved: dict[str, int], ran: dict[str, int], runs: int) -> bool:
    """Oracle solves and no memory fails, each in at least 2/3 of the runs (rounded up: 4 of 6)."""
    need = (2 * runs + 2) // 3
    return solved.get("oracle", 0) >= need and ran.get("no-memory", 0) - solved.get("no-memory", 0) >= need


def report(results: dict[tuple[str, str, int], dict[str, Any]], args: argparse.Namespace) -> str:
    conditions = [*CONTROL_CONDITIONS, *args.prompts]
    solved: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ran: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    category: dict[str, str] = {}
    for (pair_id, condition, run), row in results.items():
        if condition in conditions and run < args.runs:
            solved[pair_id][condition] += int(row["solved"])
            ran[pair_id][condition] += 1
            category[pair_id] = row["category"]
    lines = [f"| pair | {' | '.join(conditions)} | kept |", "|---" * (len(conditions) + 2) + "|"]
    kept_by_category: dict[str, list[str]] = defaultdict(list)
    for pair_id in sorted(solved):
        counts = solved[pair_id]
        verdict = kept(counts, ran[pair_id], args.runs)
        if verdict:
            kept_by_category[category[pair_id]].append(pair_id)
        cells = " | ".join(f"{counts.get(c, 0)}/{ran[pair_id].get(c, 0)}" for c in conditions)
        lines.append(f"| {pair_id} | {cells} | {'yes' if verdict else 'no'} |")
    lines.append("")
    for name in sorted(set(category.values())):
        total = sum(1 for c in category.values() if c == name)
        lines.append(f"{name}: {len(kept_by_category[name])} of {total} kept")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=sorted(MODELS))
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1000,
                        help="sampling seed of every role (run r samples as repeat r); not one of the demo's seeds")
    parser.add_argument("--solver-temperature", type=float, default=0.7,
                        help="the solver's sampling temperature (the selection's 0.7; the demo answers at 0)")
    parser.add_argument("--prompts", type=lambda text: [p for p in text.split(",") if p],
                        default=["simple", "factual-experiential"],
                        help=f"static prompts whose memory is tried (any of {', '.join(BUILTIN_PROMPTS)}; '' for none)")
    parser.add_argument("--controls", type=lambda text: [c for c in text.split(",") if c],
                        default=list(CONTROL_CONDITIONS), help="controls to run (no-memory, oracle; '' for none)")
    parser.add_argument("--pairs", type=lambda text: set(text.split(",")), default=set())
    parser.add_argument("--reasoning-chars", type=int, default=DEMO_REASONING_CHARS,
                        help="free text allowed before <answer> (default: the demo's)")
    parser.add_argument("--solver-max-tokens", type=int, default=0, help="override the demo's solver.max_tokens")
    parser.add_argument("--report-only", action="store_true", help="print the table of what is measured; run nothing")
    parser.add_argument("--out", type=Path, default=Path("runs/demo-calibration"))
    args = parser.parse_args()
    print(f"{args.model}: demo calibration, {args.runs} runs, solver temperature {args.solver_temperature}, "
          f"prompts {args.prompts}, "
          f"reasoning {args.reasoning_chars} chars, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    results = done_lines(args.out / "calibration.jsonl") if args.report_only else asyncio.run(calibrate(args))
    print(report(results, args))


if __name__ == "__main__":
    main()
