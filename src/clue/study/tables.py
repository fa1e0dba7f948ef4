"""The paper's tables from a study directory's finished cells (markdown, CSV or LaTeX).

1. Static prompts x datasets, with the ID category macros, the OOD macro and the relative gain over the
   baseline prompt (`clue.bench.run.results.relative_gain`).
2. Optimizers at equal budget: ID macro, OOD macro and gain, averaged over seeds.
A cell that has not finished is shown as "—" with a footnote; nothing is dropped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from clue.bench.data.datasets import CATEGORIES, get_dataset
from clue.bench.run.results import DatasetScore, Results, relative_gain
from clue.errors import NotFoundError
from clue.study.cells import Cell, build_cells, cells_dir
from clue.study.reader import read_cell
from clue.study.spec import StudyFile, prompt_label, selected_datasets

Format = Literal["md", "csv", "tex"]
MISSING = "—"
PARTIAL = "†"


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def load_study(out: Path) -> StudyFile:
    path = out / "study.json"
    if not path.is_file():
        raise NotFoundError(f"{out}: not a study directory (no study.json; run `clue study run` into it first)")
    return StudyFile.model_validate(json.loads(path.read_text(encoding="utf-8"))["study"])


def is_study_dir(path: Path) -> bool:
    return (path / "study.json").is_file() and (path / "cells").is_dir()


def _scores(out: Path, cells: list[Cell]) -> dict[tuple[str, str], DatasetScore]:
    """(prompt label, dataset) -> its score, for every finished eval cell."""
    found: dict[tuple[str, str], DatasetScore] = {}
    for cell in cells:
        if cell.kind != "eval":
            continue
        results = read_cell(cells_dir(out) / cell.name).results
        for score in results.datasets if results is not None else []:
            if score.score is not None:
                found[(cell.prompt, score.dataset)] = score
    return found


def _pct(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}"


def _macro(values: list[float | None]) -> tuple[float | None, bool]:
    present = [v for v in values if v is not None]
    return (sum(present) / len(present) if present else None), len(present) < len(values)


def _gain(mine: list[DatasetScore], base: list[DatasetScore], wanted: int) -> str:
    def as_results(scores: list[DatasetScore]) -> Results:
        return Results(prompt_name="", prompt_hash="", datasets=scores, category_macro={}, id_macro=None,
                       ood_macro=None)

    gain, used, _ = relative_gain(as_results(mine), as_results(base))
    if gain is None:
        return MISSING
    return f"{100 * gain:+.1f}%" + (PARTIAL if len(used) < wanted else "")


def _summary(scores: dict[tuple[str, str], DatasetScore], label: str, names: list[str],
             baseline: str) -> tuple[list[str], bool]:
    """Category macros (ID), OOD macro, gain over `baseline`, and whether any of them is partial."""
    values = {n: (scores[(label, n)].score if (label, n) in scores else None) for n in names}
    cells: list[str] = []
    partial = False
    for group in _macro_groups(names).values():
        macro, short = _macro([values[n] for n in group])
        cells.append(_pct(macro) + (PARTIAL if short and macro is not None else ""))
        partial |= short and macro is not None
    mine = [scores[(label, n)] for n in names if (label, n) in scores]
    base = [scores[(baseline, n)] for n in names if (baseline, n) in scores]
    gain = _gain(mine, base, len(names)) if label != baseline else "0.0%"
    return [*cells, gain], partial or gain.endswith(PARTIAL)


def _macro_groups(names: list[str]) -> dict[str, list[str]]:
    """Column -> its datasets: one macro per ID category the study has, then OOD if it has any."""
    groups = {f"{c} (ID)": [n for n in names if not get_dataset(n).ood and get_dataset(n).category == c]
              for c in CATEGORIES}
    groups["OOD"] = [n for n in names if get_dataset(n).ood]
    return {column: group for column, group in groups.items() if group}


def static_table(study: StudyFile, out: Path) -> Table:
    cells = build_cells(study, out, out)
    names = [spec.name for spec in selected_datasets(study)]
    scores = _scores(out, cells)
    header = ["prompt", *names, *_macro_groups(names), f"gain vs {study.baseline}"]
    rows: list[list[str]] = []
    missing = partial = False
    for label in (prompt_label(p) for p in study.prompts):
        values = [_pct(scores[(label, n)].score) if (label, n) in scores else MISSING for n in names]
        missing |= MISSING in values
        summary, short = _summary(scores, label, names, study.baseline)
        partial |= short
        rows.append([label, *values, *summary])
    return Table("Static prompts x datasets (score, %)", header, rows, _notes(missing, partial))


def optimizer_table(study: StudyFile, out: Path) -> Table:
    cells = build_cells(study, out, out)
    names = [spec.name for spec in selected_datasets(study)]
    scores = _scores(out, cells)
    header = ["optimizer", "budget", "seeds finished", "ID macro", "OOD macro", f"gain vs {study.baseline}"]
    rows: list[list[str]] = []
    missing = partial = False
    for optimizer in study.optimizers:
        runs = [f"{optimizer.method}-s{seed}" for seed in optimizer.seeds]
        finished = [r for r in runs if all((r, n) in scores for n in names)]
        id_values = [_macro([scores[(r, n)].score for n in names if (r, n) in scores and not get_dataset(n).ood])[0]
                     for r in finished]
        ood_values = [_macro([scores[(r, n)].score for n in names if (r, n) in scores and get_dataset(n).ood])[0]
                      for r in finished]
        gains = [_summary(scores, r, names, study.baseline)[0][-1] for r in finished]
        budget = next(f"{getattr(optimizer, k)} {k.split('_')[1]}" for k in
                      ("budget_rollouts", "budget_tokens", "budget_calls") if getattr(optimizer, k))
        has_id, has_ood = any(not get_dataset(n).ood for n in names), any(get_dataset(n).ood for n in names)
        row = [optimizer.method, budget, f"{len(finished)}/{len(runs)}",
               _pct(_macro(id_values)[0]) if has_id else "n/a", _pct(_macro(ood_values)[0]) if has_ood else "n/a",
               _mean_gain(gains)]
        missing |= len(finished) < len(runs)
        partial |= any(g.endswith(PARTIAL) for g in gains)
        rows.append(row)
    notes = _notes(missing, partial)
    if missing:
        notes.insert(0, "seeds finished: only seeds whose every dataset finished are averaged")
    return Table("Optimizers at equal budget (mean over seeds, %)", header, rows, notes)


def _mean_gain(gains: list[str]) -> str:
    numbers = [float(g.rstrip(PARTIAL).rstrip("%")) for g in gains if g != MISSING]
    if not numbers:
        return MISSING
    return f"{sum(numbers) / len(numbers):+.1f}%" + (PARTIAL if any(g.endswith(PARTIAL) for g in gains) else "")


def _notes(missing: bool, partial: bool) -> list[str]:
    notes = []
    if missing:
        notes.append(f"{MISSING}: cell not finished (or no data); its run directory is under cells/")
    if partial:
        notes.append(f"{PARTIAL}: over part of the datasets only: a macro over the finished ones; a gain over those "
                     "with a finished, non-zero score under both prompts (a 0 has no finite ratio)")
    return notes


def study_tables(out: Path) -> list[Table]:
    study = load_study(out)
    tables = [static_table(study, out)]
    if study.optimizers:
        tables.append(optimizer_table(study, out))
    return tables


def render(tables: list[Table], fmt: Format) -> str:
    return "\n".join({"md": _markdown, "csv": _csv, "tex": _latex}[fmt](t) for t in tables)


def _markdown(table: Table) -> str:
    lines = [f"### {table.title}", "", "| " + " | ".join(table.header) + " |",
             "|" + "|".join("---" for _ in table.header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join([*lines, "", *(f"{note}  " for note in table.notes), ""])


def _csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"# {table.title}"])
    writer.writerow(table.header)
    writer.writerows(table.rows)
    for note in table.notes:
        writer.writerow([f"# {note}"])
    return buffer.getvalue()


def _tex_escape(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}")
    for char in "&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text.replace(MISSING, "---").replace(PARTIAL, r"$^\dagger$")


def _latex(table: Table) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\caption{" + _tex_escape(table.title) + "}",
             r"\begin{tabular}{l" + "r" * (len(table.header) - 1) + "}", r"\toprule",
             " & ".join(_tex_escape(h) for h in table.header) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex_escape(c) for c in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\footnotesize " + _tex_escape(note) for note in table.notes]
    return "\n".join([*lines, r"\end{table}", ""])
