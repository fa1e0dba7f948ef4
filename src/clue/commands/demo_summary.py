"""What `clue demo` says in one sentence: did memory (or evolution) lift held-out accuracy, beyond noise?

The demo's datasets are its three categories, so the ID macro is the mean of the three category scores.
Its 95% interval resamples pairs within each category (the categories stay fixed), as the per-dataset
intervals do; two intervals that do not overlap are the demo's bar for "clearly".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clue.bench.run.results import BOOTSTRAP_SAMPLES
from clue.bench.run.rollouts import Rollout, read_rollouts


@dataclass(frozen=True)
class MacroScore:
    label: str
    mean: float
    low: float
    high: float

    def text(self) -> str:
        return f"{100 * self.mean:.0f}% ({self.label}, 95% CI {100 * self.low:.0f}-{100 * self.high:.0f}%)"


def macro_with_ci(label: str, rollouts: list[Rollout], *, seed: int = 0) -> MacroScore | None:
    """Mean over datasets of each dataset's mean per-pair reward, with a pairs-within-dataset bootstrap."""
    per_pair: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for rollout in rollouts:
        if not rollout.infra_failure:
            per_pair[rollout.dataset][rollout.pair_key].append(rollout.reward)
    arrays = [np.array([np.mean(v) for v in pairs.values()]) for pairs in per_pair.values() if pairs]
    if not arrays:
        return None
    rng = np.random.default_rng(seed)
    samples = np.mean([rng.choice(a, size=(BOOTSTRAP_SAMPLES, a.size), replace=True).mean(axis=1)
                       for a in arrays], axis=0)
    low, high = np.percentile(samples, [2.5, 97.5])
    return MacroScore(label, float(np.mean([a.mean() for a in arrays])), float(low), float(high))


def run_macro(label: str, run_dir: Path, file: str = "rollouts.jsonl", prompt_hash: str | None = None
              ) -> MacroScore | None:
    rollouts = read_rollouts(run_dir / file)
    if prompt_hash is not None:
        rollouts = [r for r in rollouts if r.prompt_hash == prompt_hash]
    return macro_with_ci(label, rollouts)


def memory_sentence(without: MacroScore | None, with_memory: MacroScore | None) -> str:
    if without is None or with_memory is None:
        return "Nothing was scored, so this demo cannot say what memory did."
    if with_memory.low > without.high:
        return (f"Memory lifted held-out accuracy from {without.text()} to {with_memory.text()}; "
                "the intervals do not overlap.")
    if with_memory.mean > without.mean:
        return (f"Memory moved held-out accuracy from {without.text()} to {with_memory.text()}, "
                "but the intervals overlap: this run does not show a lift beyond noise.")
    return f"Memory did not lift held-out accuracy: {without.text()} without it, {with_memory.text()} with it."


def evolution_sentence(seed: MacroScore | None, evolved: MacroScore | None, *, kept_seed: bool = False) -> str:
    """`kept_seed`: no candidate beat the seed in training, so the "evolved" prompt is the seed itself."""
    if seed is None or evolved is None:
        return "The evolution has no held-out scores to compare."
    if kept_seed:
        return (f"The evolved prompt is not better than its seed: no candidate beat the seed on the training pairs, "
                f"so the evolution kept it; on the held-out pairs it scored {seed.text()}.")
    if evolved.low > seed.high:
        return f"The evolved prompt beat its seed on the held-out pairs: {evolved.text()} against {seed.text()}."
    if evolved.mean > seed.mean:
        return (f"The evolved prompt scored {evolved.text()} against {seed.text()} on the held-out pairs; the "
                "intervals overlap, so it is not shown to be better.")
    return (f"The evolved prompt is not better than its seed on the held-out pairs: {evolved.text()} "
            f"against {seed.text()}.")
