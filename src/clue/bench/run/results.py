"""Aggregate rollouts into the study's figures: dataset scores with CIs, category macros, relative gain."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel

from clue.bench.run.rollouts import Rollout
from clue.errors import BadInputError

BOOTSTRAP_SAMPLES = 1000


class DatasetScore(BaseModel):
    dataset: str
    category: str
    ood: bool
    n_pairs: int
    repeats: int
    score: float | None  # mean over repeats of the mean reward over pairs, in [0, 1]; None: nothing scored
    ci_low: float | None
    ci_high: float | None
    per_repeat: list[float]
    errors: int  # rollouts with an error of any kind (infrastructure failures included)
    failed: int = 0  # infrastructure failures: not scores, left out of `score` and counted here
    unreadable_verdicts: int = 0  # judge verdicts that could not be read (after one retry), counted


class Results(BaseModel):
    prompt_name: str
    prompt_hash: str
    datasets: list[DatasetScore]
    category_macro: dict[str, float]
    id_macro: float | None
    ood_macro: float | None
    relative_gain: float | None = None
    gain_baseline: str | None = None
    gain_datasets: list[str] = []
    # Datasets left out of the gain because a score was 0 (no finite ratio); empty when a floor was used.
    gain_excluded: list[str] = []
    gain_floor: float | None = None
    usage: dict[str, dict[str, float]] = {}
    rollouts: int = 0
    failed: int = 0  # infrastructure failures across datasets (endpoint, unparseable reply, timeout, env)
    unreadable_verdicts: int = 0  # across datasets; see DatasetScore.unreadable_verdicts

    @property
    def failure_rate(self) -> float:
        return self.failed / self.rollouts if self.rollouts else 0.0


def bootstrap_ci(per_pair: np.ndarray, *, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval, resampling pairs (each pair already averaged over its repeats)."""
    if per_pair.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    samples = rng.choice(per_pair, size=(BOOTSTRAP_SAMPLES, per_pair.size), replace=True).mean(axis=1)
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def score_dataset(rollouts: list[Rollout]) -> DatasetScore:
    """Scores over the rollouts that ran; infrastructure failures are counted, never scored as 0."""
    scored = [r for r in rollouts if r.scored]
    by_repeat: dict[int, list[float]] = defaultdict(list)
    by_pair: dict[str, list[float]] = defaultdict(list)
    for rollout in scored:
        by_repeat[rollout.repeat].append(rollout.reward)
        by_pair[rollout.pair_key].append(rollout.reward)
    per_repeat = [float(np.mean(by_repeat[r])) for r in sorted(by_repeat)]
    low, high = bootstrap_ci(np.array([np.mean(v) for v in by_pair.values()])) if by_pair else (None, None)
    first = rollouts[0]
    return DatasetScore(dataset=first.dataset, category=first.category, ood=first.ood,
                        n_pairs=len({r.pair_key for r in rollouts}), repeats=len({r.repeat for r in rollouts}),
                        score=float(np.mean(per_repeat)) if per_repeat else None, ci_low=low, ci_high=high,
                        per_repeat=per_repeat, errors=sum(1 for r in rollouts if r.error),
                        failed=len(rollouts) - len(scored),
                        unreadable_verdicts=sum(r.unreadable_verdicts for r in scored))


def _macro(values: Iterable[float | None]) -> float | None:
    collected = [v for v in values if v is not None]
    return float(np.mean(collected)) if collected else None


def aggregate(rollouts: Iterable[Rollout], *, usage: dict[str, dict[str, float]] | None = None) -> Results:
    grouped: dict[str, list[Rollout]] = defaultdict(list)
    for rollout in rollouts:
        grouped[rollout.dataset].append(rollout)
    total = sum(len(group) for group in grouped.values())
    if not grouped:
        raise BadInputError("no rollouts to aggregate")
    scores = [score_dataset(grouped[name]) for name in sorted(grouped)]
    by_category: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        if not s.ood and s.score is not None:
            by_category[s.category].append(s.score)
    first = next(iter(grouped.values()))[0]
    return Results(
        prompt_name=first.prompt_name, prompt_hash=first.prompt_hash, datasets=scores,
        category_macro={c: float(np.mean(v)) for c, v in sorted(by_category.items())},
        id_macro=_macro(s.score for s in scores if not s.ood),
        ood_macro=_macro(s.score for s in scores if s.ood),
        usage=usage or {}, rollouts=total, failed=sum(s.failed for s in scores),
        unreadable_verdicts=sum(s.unreadable_verdicts for s in scores),
    )


def relative_gain(results: Results, baseline: Results, *,
                  floor: float | None = None) -> tuple[float | None, list[str], list[str]]:
    """Geometric mean over shared datasets of score/baseline, minus 1: (gain, datasets used, datasets excluded).

    A dataset where either score is 0 has no finite ratio. Without `floor` it is excluded and NAMED in the
    third element (reported with the gain, never dropped silently); with `floor` (e.g. 0.01) both scores are
    raised to at least `floor` and every shared dataset counts.
    """
    base = {s.dataset: s.score for s in baseline.datasets}
    ratios: list[float] = []
    used: list[str] = []
    excluded: list[str] = []
    for s in results.datasets:
        if s.dataset not in base:
            continue
        mine, theirs = s.score, base[s.dataset]
        if mine is None or theirs is None:  # nothing scored (every rollout failed): no ratio, named
            excluded.append(s.dataset)
            continue
        if floor is not None:
            mine, theirs = max(mine, floor), max(theirs, floor)
        if mine > 0 and theirs > 0:
            ratios.append(mine / theirs)
            used.append(s.dataset)
        else:
            excluded.append(s.dataset)
    if not ratios:
        return None, [], excluded
    return float(math.exp(np.mean(np.log(ratios))) - 1.0), used, excluded


def with_gain(results: Results, baseline: Results, *, floor: float | None = None) -> Results:
    gain, used, excluded = relative_gain(results, baseline, floor=floor)
    return results.model_copy(update={"relative_gain": gain, "gain_baseline": baseline.prompt_name,
                                      "gain_datasets": used, "gain_excluded": excluded, "gain_floor": floor})


DEFAULT_MAX_FAILURE_RATE = 0.10


def failure_message(results: Results, max_rate: float = DEFAULT_MAX_FAILURE_RATE) -> str | None:
    """Why the run's scores cannot be trusted (more than `max_rate` of its rollouts failed for infrastructure
    reasons), or None."""
    if results.rollouts and results.failure_rate > max_rate:
        return (f"{results.failed}/{results.rollouts} rollouts failed for infrastructure reasons "
                f"({100 * results.failure_rate:.0f}% > {100 * max_rate:.0f}%); their scores are left out. "
                "Fix the cause, then continue with --resume: failed rollouts are retried")
    return None


def check_failures(results: Results, max_rate: float = DEFAULT_MAX_FAILURE_RATE,
                   error_lines: Sequence[str] = ()) -> None:
    """Raise when more than `max_rate` of the rollouts failed for infrastructure reasons: naming the cause
    most of `error_lines` (the failed rollouts' errors) share, with its kind's exit code (4, 5; else 6)."""
    from clue.bench.run.failure_cause import failure_error

    if results.rollouts and results.failure_rate > max_rate:
        raise failure_error(
            f"{results.failed}/{results.rollouts} rollouts failed for infrastructure reasons "
            f"({100 * results.failure_rate:.0f}% > {100 * max_rate:.0f}%)",
            "Their scores are left out; fix the cause, then continue with --resume: failed rollouts are retried",
            error_lines)
