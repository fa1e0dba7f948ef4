"""Replay a released 1-shot transcript's actions in our environment and compare, step by step.

Used by the fidelity tests (a fast subset) and by `perf/agentic_replay.py` (all of them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.envs.base import EnvSpec, Transcript

MODEL_DIR = "openai/Qwen3-32B"


@dataclass
class ReplayResult:
    target_id: int
    steps: int = 0
    identical_observations: int = 0
    initial_identical: bool | None = None
    outcome_identical: bool = False
    ours: tuple[bool, float] = (False, 0.0)
    theirs: tuple[bool, float] = (False, 0.0)
    env_seconds: float = 0.0  # building, resetting, stepping and closing the environment
    reset_seconds: float = 0.0  # of which building and resetting (a JVM start for ScienceWorld)
    first_mismatch: str | None = None  # "step N: ours ... | theirs ..."
    mismatches: list[int] = field(default_factory=list)


def released_runs(data_root: Path, dataset: str,
                  split: str = "train") -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(target line, 1-shot output line) for every released transcript of `dataset`, by target id."""
    base = data_root / "data_collection" / split / dataset / MODEL_DIR
    targets = {row["id"]: row for row in _jsonl(base / "target.jsonl")}
    for output in _jsonl(base / "1-shot" / "target_output.jsonl"):
        target = targets.get(output["id"])
        if target is not None:
            yield target, output


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _same(ours: str, theirs: str) -> bool:
    return " ".join(ours.split()) == " ".join(theirs.split())


def replay(spec: EnvSpec, env_root: Path, target: Mapping[str, Any], transcript: Transcript) -> ReplayResult:
    """Play the transcript's actions (up to the step cap) in a fresh environment and compare."""
    result = ReplayResult(target_id=transcript.target_id, theirs=(transcript.success, transcript.reward))
    started = time.perf_counter()
    env = spec.make(env_root)
    try:
        first = env.reset(target)
        result.reset_seconds = time.perf_counter() - started
        if transcript.initial_observation is not None:
            result.initial_identical = _same(first, transcript.initial_observation)
        for index, step in enumerate(transcript.steps[: spec.step_cap], start=1):
            outcome = env.step(step.action)
            result.steps += 1
            if _same(outcome.observation, step.observation):
                result.identical_observations += 1
            else:
                result.mismatches.append(index)
                if result.first_mismatch is None:
                    result.first_mismatch = (f"step {index} {step.action!r}: ours {outcome.observation[:160]!r}"
                                             f" | theirs {step.observation[:160]!r}")
            if outcome.done:
                break
        final = env.outcome()
    finally:
        env.close()
    result.env_seconds = time.perf_counter() - started
    result.ours = (final.success, round(final.reward, 3))
    result.outcome_identical = result.ours[0] == transcript.success and abs(final.reward - transcript.reward) < 1e-3
    return result
