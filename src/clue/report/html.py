"""`clue report`: one self-contained HTML file (styles, scripts, plots and data inline; nothing fetched)."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from clue.errors import BadInputError
from clue.fileio import write_atomic
from clue.report.evolution_view import evolution_context
from clue.report.lineage_view import cluster_rounds, count_nodes, lineage_tree
from clue.report.results_view import cost_context, results_context
from clue.report.rundata import RunData, load_run, load_runs
from clue.report.transcripts import DEFAULT_MAX_CHARS, pack_transcripts
from clue.study.tables import Table, is_study_dir, study_tables


def json_script(value: Any) -> Markup:
    """JSON safe inside a <script> element: no `<` survives, so no `</script>` can end it early."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.{digits}f}"


def signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}%"


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff."""
    out = []
    for line in diff.splitlines():
        kind = ("meta" if line.startswith(("---", "+++")) else "hunk" if line.startswith("@@")
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        out.append((kind, line))
    return out


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("clue.report", "templates"), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, signed_pct=signed_pct, diff_lines=diff_lines, json_script=json_script,
                       thousands=lambda n: "–" if n is None else f"{int(n):,}")
    return env


def _asset(name: str) -> Markup:
    return Markup(resources.files("clue.report").joinpath(f"templates/{name}").read_text(encoding="utf-8"))


def render_report(runs: list[RunData], *, baseline: RunData | None = None, title: str | None = None,
                  max_chars: int = DEFAULT_MAX_CHARS, tables: list[Table] | None = None,
                  summary: list[str] | None = None) -> str:
    """`summary`: sentences shown above everything else (`clue demo` says there what memory did)."""
    from clue import __version__

    transcripts = pack_transcripts(runs, max_chars=max_chars)
    lineages = []
    clusters = []
    for index, run in enumerate(runs):
        if run.kind != "evolve":
            continue
        roots = lineage_tree(run)
        lineages.append({"run": run, "key": index, "roots": roots, "count": count_nodes(roots)})
        key_of = {rid.split("|", 1)[1]: key for rid, key in transcripts.keys.items()
                  if rid.startswith(f"{index}|")}
        rounds = cluster_rounds(run, key_of)
        if rounds:
            clusters.append({"run": run, "key": index, "rounds": rounds})
    meta = {"runs": transcripts.runs, "datasets": transcripts.datasets, "prompts": transcripts.prompts,
            "index": transcripts.index}
    context = {
        "title": title or "clue report: " + ", ".join(r.label for r in runs),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "runs": runs,
        "results": results_context(runs, baseline),
        "evolution": evolution_context(runs),
        "lineages": lineages,
        "clusters": clusters,
        "cost": cost_context(runs),
        "transcript_count": len(transcripts.index),
        "transcript_meta": meta,
        "transcript_chunks": transcripts.chunks,
        "max_chars": max_chars,
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "warnings": [w for run in runs for w in run.warnings],
        "study_tables": tables or [],
        "summary": summary or [],
    }
    return _environment().get_template("report.html.j2").render(**context)


@dataclass
class WrittenReport:
    path: Path
    rollouts: int
    warnings: list[str]


def write_whole(out: Path, text: str) -> None:
    """Write `text` to `out` through a temporary file; on failure one line, and nothing left behind (neither
    the temporary file nor folders made for it)."""
    made = [folder for folder in (out.parent, *out.parent.parents) if not folder.exists()]
    try:
        write_atomic(out, text)  # removes its temporary file when it fails
    except OSError as exc:
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise BadInputError(f"--out {out}: cannot write the report ({exc.strerror or exc})") from None


def write_report(run_dirs: list[Path], out: Path, *, baseline_dir: Path | None = None, title: str | None = None,
                 max_chars: int = DEFAULT_MAX_CHARS, summary: list[str] | None = None) -> WrittenReport:
    if not run_dirs:
        raise BadInputError("no run directory given")
    if out.is_dir():
        raise BadInputError(f"--out {out}: is a directory; name the HTML file to write (e.g. {out / 'report.html'})")
    # A study directory stands for its cells, and adds the study's tables (clue study tables).
    tables = [table for path in run_dirs if is_study_dir(path) for table in study_tables(path)]
    runs = load_runs([path / "cells" if is_study_dir(path) else path for path in run_dirs])
    baseline = None
    if baseline_dir is not None:
        baseline = next((r for r in runs if r.path.resolve() == baseline_dir.resolve()), None)
        if baseline is None:
            baseline = load_run(baseline_dir)
            baseline.label = f"{baseline.log.spec.prompt_name or baseline.path.name} (baseline)"
            runs = [baseline, *runs]
        if not baseline.results:
            raise BadInputError(f"{baseline_dir}: the baseline run has no results yet")
    html = render_report(runs, baseline=baseline, title=title, max_chars=max_chars, tables=tables, summary=summary)
    write_whole(out, html)
    return WrittenReport(out, sum(len(r.rollouts) + len(r.test_rollouts) for r in runs),
                         [w for r in runs for w in r.warnings])
