"""Rich tables for evaluation results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from clue.bench.run.results import Results


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _name_column(table: Table, header: str, names: Sequence[str]) -> None:
    """A column whose cells are never cut or wrapped, whatever the terminal's width."""
    table.add_column(header, no_wrap=True, min_width=max([len(header), *(len(n) for n in names)]))


def results_table(results: Results) -> Table:
    table = Table(title=f"prompt {results.prompt_name} ({results.prompt_hash})")
    names = [s.dataset for s in results.datasets] + [f"macro {c}" for c in results.category_macro]
    _name_column(table, "dataset", names)
    for column in ("category", "split", "pairs", "repeats", "score", "95% CI", "errors", "failed"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for s in results.datasets:
        table.add_row(s.dataset, s.category, "OOD" if s.ood else "ID", str(s.n_pairs), str(s.repeats),
                      _pct(s.score), f"{_pct(s.ci_low)}–{_pct(s.ci_high)}", str(s.errors), str(s.failed))
    for category, value in results.category_macro.items():
        table.add_row(f"macro {category}", "", "ID", "", "", _pct(value), "", "", "", style="bold")
    table.add_row("macro ID", "", "", "", "", _pct(results.id_macro), "", "", "", style="bold")
    table.add_row("macro OOD", "", "", "", "", _pct(results.ood_macro), "", "", "", style="bold")
    notes = []
    if results.failed:
        notes.append(f"{results.failed}/{results.rollouts} rollouts failed for infrastructure reasons and are "
                     "left out of the scores")
    if results.relative_gain is not None:
        notes.append(f"relative gain over {results.gain_baseline}: {100 * results.relative_gain:+.2f}% "
                     f"(geometric mean over {len(results.gain_datasets)} datasets)")
    table.caption = "; ".join(notes) or None
    return table


def _gain_cell(run: Results) -> str:
    if run.gain_baseline is None or run.gain_baseline == run.prompt_name:
        return "-"
    if run.relative_gain is None:
        return f"n/a vs {run.gain_baseline}"
    return f"{100 * run.relative_gain:+.2f}% vs {run.gain_baseline} ({len(run.gain_datasets)} sets)"


def comparison_table(runs: Sequence[Results], title: str = "comparison") -> Table:
    """One row per dataset, one column per prompt; the last rows give macros and each run's relative gain.

    The gain is a geometric mean of per-dataset ratios, so a dataset where either score is 0 drops out of it;
    the cell says over how many datasets it was taken.
    """
    table = Table(title=title)
    names = sorted({s.dataset for run in runs for s in run.datasets})
    _name_column(table, "dataset", [*names, *(f"macro {c}" for run in runs for c in run.category_macro),
                                    "relative gain"])
    for run in runs:
        table.add_column(run.prompt_name, justify="right")
    for name in names:
        row = [name]
        for run in runs:
            found = next((s for s in run.datasets if s.dataset == name), None)
            row.append(_pct(found.score) if found else "-")
        table.add_row(*row)
    categories = sorted({c for run in runs for c in run.category_macro})
    for category in categories:
        table.add_row(f"macro {category}", *(_pct(run.category_macro.get(category)) for run in runs),
                      style="bold")
    table.add_row("macro ID", *(_pct(run.id_macro) for run in runs), style="bold")
    table.add_row("relative gain", *(_gain_cell(run) for run in runs), style="bold")
    return table


def usage_table(usage: dict[str, dict[str, float]], title: str = "LLM usage by role", key: str = "role") -> Table:
    table = Table(title=title)
    for column in (key, "calls", "cached", "failed", "prompt tok", "completion tok", "model time s"):
        table.add_column(column, justify="left" if column == key else "right")
    for role, u in usage.items():
        table.add_row(role, *(str(int(u[k])) for k in ("calls", "cached_calls", "failed_calls", "prompt_tokens",
                                                        "completion_tokens")), f"{u['latency_s']:.1f}")
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    (console or Console()).print(table)
