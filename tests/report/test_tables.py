from __future__ import annotations

from rich.console import Console

from clue.bench.run.results import aggregate, with_gain
from clue.bench.run.rollouts import Rollout
from clue.report.tables import comparison_table, results_table


def _run(prompt: str, rewards: list[float]) -> list[Rollout]:
    return [Rollout(rollout_id=f"{prompt}:{i}", prompt_name=prompt, prompt_hash=prompt, dataset="A", subset="A",
                    category="personalization", ood=False, source_id=i, target_id=i, repeat=0, reward=r)
            for i, r in enumerate(rewards)]


def _render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_results_table_shows_scores_ci_and_gain() -> None:
    simple = aggregate(_run("simple", [1.0, 0.0]))
    mine = with_gain(aggregate(_run("mine", [1.0, 1.0])), simple)
    text = _render(results_table(mine))
    assert "100.00" in text and "macro personalization" in text
    assert "relative gain over simple: +100.00%" in text


def test_comparison_table_has_a_column_per_prompt_and_labels_the_gain() -> None:
    simple = aggregate(_run("simple", [1.0, 0.0]))
    mine = with_gain(aggregate(_run("mine", [1.0, 1.0])), simple)
    text = _render(comparison_table([with_gain(simple, simple), mine]))
    assert "simple" in text and "mine" in text
    assert "+100.00% vs simple (1 sets)" in text


def test_usage_table_lists_every_role() -> None:
    from clue.llm.ledger import Ledger
    from clue.report.tables import usage_table

    text = _render(usage_table(Ledger().snapshot()))
    for role in ("extractor", "solver", "judge", "optimizer"):
        assert role in text
