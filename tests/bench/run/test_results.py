from __future__ import annotations

import math

import pytest

from clue.bench.run.results import aggregate, relative_gain, with_gain
from clue.bench.run.rollouts import Rollout
from clue.errors import BadInputError


def rollout(dataset: str, pair: int, reward: float, *, repeat: int = 0, category: str = "problem-solving",
            ood: bool = False, prompt: str = "p") -> Rollout:
    return Rollout(rollout_id=f"{prompt}:{dataset}:{pair}:{repeat}", prompt_name=prompt, prompt_hash=prompt,
                   dataset=dataset, subset=dataset, category=category, ood=ood, source_id=pair,
                   target_id=pair, repeat=repeat, reward=reward)


def test_dataset_score_is_the_mean_over_repeats_of_the_mean_over_pairs() -> None:
    rollouts = [rollout("A", 0, 1.0, repeat=0), rollout("A", 1, 0.0, repeat=0),
                rollout("A", 0, 1.0, repeat=1), rollout("A", 1, 1.0, repeat=1)]
    (score,) = aggregate(rollouts).datasets
    assert score.per_repeat == [0.5, 1.0]
    assert score.score == pytest.approx(0.75)
    assert score.n_pairs == 2 and score.repeats == 2
    assert score.ci_low <= score.score <= score.ci_high


def test_bootstrap_interval_is_degenerate_for_constant_rewards_and_wide_for_mixed() -> None:
    constant = aggregate([rollout("A", i, 1.0) for i in range(20)]).datasets[0]
    assert constant.ci_low == constant.ci_high == 1.0
    mixed = aggregate([rollout("A", i, float(i % 2)) for i in range(40)]).datasets[0]
    assert mixed.ci_low < 0.5 < mixed.ci_high and mixed.ci_high - mixed.ci_low > 0.1


def test_category_macro_and_id_ood_split() -> None:
    results = aggregate([rollout("A", 0, 1.0), rollout("B", 0, 0.0),
                         rollout("P", 0, 1.0, category="personalization"),
                         rollout("O", 0, 0.0, ood=True)])
    assert results.category_macro == {"personalization": 1.0, "problem-solving": 0.5}
    assert results.id_macro == pytest.approx(2 / 3)
    assert results.ood_macro == 0.0


def test_relative_gain_is_the_geometric_mean_of_ratios_minus_one() -> None:
    base = aggregate([rollout("A", i, float(i < 5), prompt="simple") for i in range(10)]
                     + [rollout("B", i, float(i < 2), prompt="simple") for i in range(10)])
    mine = aggregate([rollout("A", i, float(i < 6)) for i in range(10)]
                     + [rollout("B", i, float(i < 4)) for i in range(10)])
    gain, used, excluded = relative_gain(mine, base)
    assert used == ["A", "B"] and excluded == []
    assert gain == pytest.approx(math.sqrt((0.6 / 0.5) * (0.4 / 0.2)) - 1)
    assert with_gain(mine, base).gain_baseline == "simple"


def test_a_zero_score_dataset_is_reported_not_silently_dropped_or_floored() -> None:
    base = aggregate([rollout("A", 0, 0.0, prompt="simple"), rollout("B", 0, 1.0, prompt="simple")])
    mine = aggregate([rollout("A", 0, 1.0), rollout("B", 0, 1.0)])
    gain, used, excluded = relative_gain(mine, base)
    assert used == ["B"] and excluded == ["A"] and gain == pytest.approx(0.0)
    reported = with_gain(mine, base)
    assert reported.gain_excluded == ["A"] and reported.gain_floor is None
    floored = with_gain(mine, base, floor=0.1)  # both scores raised to at least 0.1: A counts as 1.0 / 0.1
    assert floored.gain_datasets == ["A", "B"] and floored.gain_excluded == []
    assert floored.relative_gain == pytest.approx(math.sqrt(10.0) - 1)


def test_aggregate_refuses_nothing() -> None:
    with pytest.raises(BadInputError, match="no rollouts"):
        aggregate([])


def test_infrastructure_failures_are_counted_not_scored() -> None:
    from clue.bench.run.results import check_failures
    from clue.errors import RunIncompleteError

    good = [rollout("A", i, 1.0) for i in range(9)]
    failed = rollout("A", 9, 0.0).model_copy(update={"infra_failure": True, "error": "endpoint down"})
    results = aggregate([*good, failed])
    (score,) = results.datasets
    assert score.score == 1.0, "a failed rollout is not a wrong answer"
    assert (score.failed, score.errors, score.n_pairs) == (1, 1, 10)
    assert (results.rollouts, results.failed) == (10, 1)
    check_failures(results)  # 10% is within the default threshold
    with pytest.raises(RunIncompleteError, match=r"2/11 rollouts failed .* continue with --resume"):
        check_failures(aggregate([*good, failed, failed.model_copy(update={"target_id": 10, "source_id": 10})]))


def test_a_dataset_whose_every_rollout_failed_has_no_score() -> None:
    failed = rollout("A", 0, 0.0).model_copy(update={"infra_failure": True, "error": "x"})
    results = aggregate([failed, rollout("B", 0, 1.0)])
    by_name = {s.dataset: s for s in results.datasets}
    assert by_name["A"].score is None and by_name["A"].ci_low is None
    assert results.id_macro == 1.0 and results.category_macro == {"problem-solving": 1.0}
