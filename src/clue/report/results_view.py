"""The Results and Cost sections: per-run scores with CIs, the paper-style comparison table, usage per role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clue.bench.run.results import Results, with_gain
from clue.report import plots
from clue.report.rundata import RunData


@dataclass
class Entry:
    """One prompt's results: an eval run, or an evolution's seed or best on its test pairs."""

    label: str
    run: RunData
    results: Results
    gain: float | None = None
    gain_baseline: str | None = None
    gain_datasets: list[str] = field(default_factory=list)
    gain_excluded: list[str] = field(default_factory=list)  # shared datasets with no finite ratio (a 0 score)


@dataclass
class Column:
    key: str
    title: str
    kind: str  # dataset | macro | gain


@dataclass
class Comparison:
    columns: list[Column]
    rows: list[tuple[str, list[float | None]]]
    best: list[list[int]]  # per column: the rows holding its best value (none when all rows tie)


def entries_of(runs: list[RunData], baseline: RunData | None) -> list[Entry]:
    out: list[Entry] = []
    for run in runs:
        for results in run.results:
            label = run.label if len(run.results) == 1 else f"{run.label}: {results.prompt_name}"
            out.append(Entry(label, run, results))
    base_results = baseline.results[0] if baseline is not None and baseline.results else None
    for entry in out:
        if base_results is not None:
            entry.gain_baseline = baseline.label if baseline is not None else None
            gained = with_gain(entry.results, base_results)
        else:
            gained = entry.results
            entry.gain_baseline = entry.results.gain_baseline
        entry.gain, entry.gain_datasets = gained.relative_gain, list(gained.gain_datasets)
        entry.gain_excluded = list(getattr(gained, "gain_excluded", []))
    return out


def comparison(entries: list[Entry]) -> Comparison:
    """Prompts as rows; datasets (ID by category, then OOD), category macros, ID/OOD macros, gain as columns."""
    found: dict[str, tuple[bool, str]] = {}
    for entry in entries:
        for s in entry.results.datasets:
            found.setdefault(s.dataset, (s.ood, s.category))
    datasets = sorted(found, key=lambda name: (found[name], name))
    categories = sorted({c for e in entries for c in e.results.category_macro})
    columns = [Column(name, name + (" (OOD)" if found[name][0] else ""), "dataset") for name in datasets]
    columns += [Column(f"macro:{c}", f"{c} macro", "macro") for c in categories]
    columns += [Column("id", "ID macro", "macro")]
    if any(e.results.ood_macro is not None for e in entries):
        columns.append(Column("ood", "OOD macro", "macro"))
    if any(e.gain is not None for e in entries):
        columns.append(Column("gain", "relative gain", "gain"))
    rows = []
    for entry in entries:
        scores = {s.dataset: s.score for s in entry.results.datasets}
        values: list[float | None] = []
        for column in columns:
            if column.kind == "dataset":
                values.append(scores.get(column.key))
            elif column.key.startswith("macro:"):
                values.append(entry.results.category_macro.get(column.key.removeprefix("macro:")))
            elif column.key == "id":
                values.append(entry.results.id_macro)
            elif column.key == "ood":
                values.append(entry.results.ood_macro)
            else:
                values.append(entry.gain)
        rows.append((entry.label, values))
    best: list[list[int]] = []
    for i in range(len(columns)):
        present: dict[int, float] = {}
        for r, (_, values) in enumerate(rows):
            value = values[i]
            if value is not None:
                present[r] = value
        top = max(present.values(), default=None)
        winners = [r for r, v in present.items() if v == top]
        best.append(winners if len(present) > 1 and len(winners) < len(present) else [])
    return Comparison(columns, rows, best)


def results_context(runs: list[RunData], baseline: RunData | None) -> dict[str, Any]:
    entries = entries_of(runs, baseline)
    context: dict[str, Any] = {"entries": entries, "baseline": baseline.label if baseline else None,
                               "comparison": None, "ci_plot": None, "heatmap": None}
    if not entries:
        return context
    context["ci_plot"] = plots.ci_plot([(e.label, e.results) for e in entries])
    if len(entries) > 1:
        table = comparison(entries)
        context["comparison"] = table
        score_columns = [i for i, c in enumerate(table.columns) if c.kind != "gain"]
        context["heatmap"] = plots.heatmap([label for label, _ in table.rows],
                                           [table.columns[i].title for i in score_columns],
                                           [[values[i] for i in score_columns] for _, values in table.rows])
    return context


@dataclass
class RoleCost:
    role: str
    calls: int
    cached: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def mean_latency(self) -> float | None:
        paid = self.calls - self.cached - self.failed
        return self.latency_s / paid if paid > 0 else None


def role_costs(usage: dict[str, dict[str, float]]) -> list[RoleCost]:
    out = []
    for role, u in usage.items():
        out.append(RoleCost(role, int(u.get("calls", 0)), int(u.get("cached_calls", 0)),
                            int(u.get("failed_calls", 0)), int(u.get("prompt_tokens", 0)),
                            int(u.get("completion_tokens", 0)), float(u.get("latency_s", 0.0))))
    return out


def total_cost(costs: list[RoleCost]) -> RoleCost:
    return RoleCost("total", sum(c.calls for c in costs), sum(c.cached for c in costs),
                    sum(c.failed for c in costs), sum(c.prompt_tokens for c in costs),
                    sum(c.completion_tokens for c in costs), sum(c.latency_s for c in costs))


def usage_of(run: RunData) -> dict[str, dict[str, float]]:
    """The run log's usage; for a log without it, the last results' usage snapshot."""
    if run.log.usage:
        return run.log.usage
    for results in reversed(run.results):
        if results.usage:
            return results.usage
    return {}


def cost_context(runs: list[RunData]) -> dict[str, Any]:
    per_run = []
    with_usage: list[tuple[str, dict[str, dict[str, float]]]] = []
    for run in runs:
        usage = usage_of(run)
        costs = [c for c in role_costs(usage) if c.calls]
        per_run.append({"run": run, "roles": costs, "total": total_cost(costs)})
        if costs:
            with_usage.append((run.label, usage))
    plot = plots.cost_plot([label for label, _ in with_usage], [u for _, u in with_usage]) if with_usage else None
    return {"runs": per_run, "plot": plot}
