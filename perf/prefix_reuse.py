"""Prompt tokens evaluated vs requested for one CluE-like round on a real embedded model.

    .venv/bin/python perf/prefix_reuse.py [--model smollm2-135m] [--candidates 3] [--pairs 4] [--repeats 2]

A CluE round evaluates several candidate extraction prompts on the same batch of pairs, all at once
(`Harness.evaluate_many`): every rollout extracts memory under its candidate, then solves the target
with that memory. This runs such a round through the real runner and `LocalBackend` on the built-in demo
pairs, once with prefix reuse and once without, and prints the prompt tokens requested, those actually
evaluated, and the wall time of each. Replies are the same either way (see `prefix_cache`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from clue.bench.data.demo import demo_info, demo_task, load_demo_pairs
from clue.bench.run.rollouts import Rollout
from clue.bench.run.runner import Runner
from clue.config import load_settings, parse_role_overrides
from clue.llm.backends.local import DEFAULT_N_BATCH, LocalBackend  # sets OMP_WAIT_POLICY before llama_cpp
from clue.llm.backends.prefix_cache import PrefillStats
from clue.llm.client import LLM
from clue.llm.weights import MODELS
from clue.memory.prompts import BUILTIN_PROMPTS, load_prompt


async def one_round(args: argparse.Namespace, reuse: bool) -> tuple[PrefillStats, list[Rollout], float]:
    backend = LocalBackend(n_batch=args.n_batch, reuse_prompt_prefix=reuse)
    settings = load_settings(env={}, cli={"backend": "local", "model": args.model}, no_cache=True,
                             role_overrides=parse_role_overrides(["extractor.max_tokens=96",
                                                                  "solver.max_tokens=32"]))
    llm = LLM(settings, backend=backend, cache=None)
    pairs = load_demo_pairs()[: args.pairs]
    prompts = [load_prompt(name) for name in BUILTIN_PROMPTS[: args.candidates]]
    runner = Runner(llm, tasks=demo_task, info=demo_info)
    started = time.perf_counter()
    try:
        batches = await asyncio.gather(*(runner.evaluate(prompt, pairs, range(args.repeats))
                                         for prompt in prompts))
    finally:
        elapsed = time.perf_counter() - started
        stats = backend.prefill_stats()
        await llm.aclose()
    return stats, [rollout for batch in batches for rollout in batch], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", choices=sorted(MODELS))
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-batch", type=int, default=DEFAULT_N_BATCH)
    args = parser.parse_args()

    print(f"{args.model}: {args.candidates} candidates x {args.pairs} demo pairs x {args.repeats} repeats, "
          f"n_batch {args.n_batch}, load average {os.getloadavg()[0]:.2f}")
    stats, reused_rollouts, reuse_s = asyncio.run(one_round(args, reuse=True))
    _, fresh_rollouts, fresh_s = asyncio.run(one_round(args, reuse=False))
    requested = sum(r.extract_prompt_tokens + r.solve_prompt_tokens for r in fresh_rollouts)
    print(f"without reuse: {requested} prompt tokens requested, {requested} evaluated (100%), {fresh_s:.1f}s")
    print(f"with reuse:    {stats.requested} prompt tokens requested, {stats.computed} evaluated "
          f"({100 * stats.computed / max(stats.requested, 1):.1f}%), {stats.restored} prefixes restored "
          f"from RAM, {reuse_s:.1f}s")
    same = [r.solver_output for r in reused_rollouts] == [r.solver_output for r in fresh_rollouts]
    print(f"same replies with and without reuse: {same}")
    print(f"prefill_computed: {stats.computed} prefill_requested: {stats.requested}")


if __name__ == "__main__":
    main()
