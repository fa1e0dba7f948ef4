"""Fidelity and speed of the agentic environments: replay every released 1-shot transcript's actions.

For each dataset (default: every registry dataset whose environment module imports), all released
transcripts (`<data-root>/data_collection/train/<dataset>/openai/Qwen3-32B/1-shot/target_output.jsonl`) are
replayed in fresh environments, up to the dataset's pool size at once, and compared step by step. Printed
per dataset:

    <dataset>: observations identical: a/b, outcomes identical: c/d, initial observations identical: e/f
    <dataset>: environment seconds per step: S (start-up R s per episode, W s wall for N episodes)

`--details` also prints every mismatching episode (first differing step, ours vs theirs); `--json FILE`
writes every episode's result.

    .venv/bin/python perf/agentic_replay.py [--datasets babyai,scienceworld] [--limit N] [--ids 0,5]
        [--workers N] [--data-root ../shared/behemoth] [--env-root ../shared/agentic] [--details]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from clue.bench.envs.base import EnvSpec
from clue.bench.envs.registry import ENV_MODULES, env_spec
from clue.bench.envs.replay import ReplayResult, released_runs, replay

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class DatasetReport:
    dataset: str
    results: list[ReplayResult]
    failures: list[str]  # episodes whose environment raised
    wall_seconds: float

    def lines(self) -> list[str]:
        episodes = len(self.results) + len(self.failures)
        identical = sum(result.identical_observations for result in self.results)
        steps = sum(result.steps for result in self.results)
        outcomes = sum(result.outcome_identical for result in self.results)
        initial = [result.initial_identical for result in self.results if result.initial_identical is not None]
        stepping = sum(result.env_seconds - result.reset_seconds for result in self.results)
        start_up = sum(result.reset_seconds for result in self.results)
        per_step = stepping / steps if steps else 0.0
        per_start = start_up / len(self.results) if self.results else 0.0
        return [
            f"{self.dataset}: observations identical: {identical}/{steps}, outcomes identical: {outcomes}/{episodes}, "
            f"initial observations identical: {sum(initial)}/{len(initial)}",
            f"{self.dataset}: environment seconds per step: {per_step:.4f} (start-up {per_start:.2f} s per episode, "
            f"{self.wall_seconds:.1f} s wall for {episodes} episodes)",
        ]


def importable(datasets: Sequence[str]) -> dict[str, EnvSpec]:
    specs: dict[str, EnvSpec] = {}
    for dataset in datasets:
        if dataset not in ENV_MODULES:
            print(f"{dataset}: skipped, not an agentic dataset (known: {', '.join(ENV_MODULES)})")
            continue
        try:
            specs[dataset] = env_spec(dataset)
        except ImportError as error:
            print(f"{dataset}: skipped, its environment module does not import ({error})")
    return specs


def replay_dataset(spec: EnvSpec, data_root: Path, env_root: Path, limit: int | None, ids: set[int] | None,
                   workers: int | None) -> DatasetReport:
    runs = [(target, spec.parse_transcript(output)) for target, output in released_runs(data_root, spec.dataset)
            if ids is None or int(target["id"]) in ids]
    runs = runs[:limit] if limit is not None else runs
    failures: list[str] = []

    def one(run: tuple[dict[str, Any], Any]) -> ReplayResult | None:
        target, transcript = run
        try:
            return replay(spec, env_root, target, transcript)
        except Exception as error:  # an environment crash is a finding, not a reason to stop the bench
            failures.append(f"{spec.dataset} #{target['id']}: {type(error).__name__}: {error}")
            return None

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers or spec.pool_size) as pool:
        results = [result for result in pool.map(one, runs) if result is not None]
    return DatasetReport(spec.dataset, results, failures, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(ENV_MODULES), help="comma-separated registry names")
    parser.add_argument("--data-root", type=Path, default=CHECKOUT.parent / "shared" / "behemoth")
    parser.add_argument("--env-root", type=Path, default=CHECKOUT.parent / "shared" / "agentic")
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N transcripts per dataset")
    parser.add_argument("--ids", default=None, help="comma-separated target ids to replay")
    parser.add_argument("--workers", type=int, default=None, help="episodes at once (default: the pool size)")
    parser.add_argument("--details", action="store_true", help="print every mismatching episode")
    parser.add_argument("--json", type=Path, default=None, help="write every episode's result to this file")
    args = parser.parse_args(argv)

    ids = {int(part) for part in args.ids.split(",")} if args.ids else None
    everything: dict[str, list[dict[str, Any]]] = {}
    for dataset, spec in importable([name.strip() for name in args.datasets.split(",") if name.strip()]).items():
        problem = spec.missing(args.env_root)
        if problem:
            print(f"{dataset}: skipped, {problem}")
            continue
        report = replay_dataset(spec, args.data_root, args.env_root, args.limit, ids, args.workers)
        if args.details:
            for result in report.results:
                if result.mismatches or not result.outcome_identical or result.initial_identical is False:
                    print(f"  #{result.target_id} ours {result.ours} theirs {result.theirs} "
                          f"initial identical {result.initial_identical} mismatched steps {result.mismatches}: "
                          f"{result.first_mismatch}")
        for failure in report.failures:
            print(f"  failed: {failure}")
        for line in report.lines():
            print(line, flush=True)
        everything[dataset] = [dataclasses.asdict(result) for result in report.results]
    if args.json is not None:
        args.json.write_text(json.dumps(everything, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
