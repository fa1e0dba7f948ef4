"""Plots drawn with matplotlib and inlined as SVG: text stays text, nothing is fetched when the page opens."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

from clue.bench.run.results import Results

# Colour-blind-safe (Okabe-Ito); one colour per run or method, in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_ids = itertools.count(1)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    # A distinct salt per plot: matplotlib derives element ids from it, and ids must be unique in one page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"clue-plot-{next(_ids)}"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=96)
    fig.patch.set_alpha(0)
    return fig


def ci_plot(entries: Sequence[tuple[str, Results]]) -> str:
    """Per dataset, each run's score with its bootstrap 95% CI (a dot and a bar), runs side by side."""
    datasets = sorted({s.dataset for _, r in entries for s in r.datasets},
                      key=lambda name: next((s.category, name) for _, r in entries for s in r.datasets
                                            if s.dataset == name))
    fig = _figure(7.5, 0.45 * len(datasets) * max(1, len(entries)) ** 0.5 + 1.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(entries))
    for i, (label, results) in enumerate(entries):
        scores = {s.dataset: s for s in results.datasets}
        ys, xs, lows, highs = [], [], [], []
        for row, name in enumerate(datasets):
            s = scores.get(name)
            if s is None or s.score is None:  # not run, or nothing scored (every rollout failed)
                continue
            ys.append(row - 0.4 + width * (i + 0.5))
            xs.append(100 * s.score)
            low = s.ci_low if s.ci_low is not None and not math.isnan(s.ci_low) else s.score
            high = s.ci_high if s.ci_high is not None and not math.isnan(s.ci_high) else s.score
            lows.append(100 * (s.score - low))
            highs.append(100 * (high - s.score))
        ax.errorbar(xs, ys, xerr=[lows, highs], fmt="o", color=PALETTE[i % len(PALETTE)], capsize=3,
                    label=label, markersize=5)
    ax.set_yticks(range(len(datasets)), datasets)
    ax.invert_yaxis()
    ax.set_xlim(-2, 102)
    ax.set_xlabel("score (%), bars: bootstrap 95% CI over pairs")
    ax.grid(axis="x", alpha=0.3)
    if len(entries) > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(4, len(entries)), frameon=False)
    return _svg(fig)


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]]) -> str:
    """A prompts x columns grid of percentages, each cell written in; empty cells stay blank."""
    fig = _figure(max(5.0, 0.75 * len(columns) + 2.5), 0.45 * len(rows) + 1.8)
    ax = fig.add_subplot()
    grid = [[math.nan if v is None else 100 * v for v in row] for row in values]
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if not math.isnan(value):
                ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if value < 60 else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    fig.colorbar(image, ax=ax, label="score (%)", fraction=0.03)
    return _svg(fig)


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]


def progress_plot(series: Sequence[Series], xlabel: str) -> str:
    """Best-so-far score against spend, one step line per method, so methods compare at equal budget."""
    fig = _figure(7.0, 3.6)
    ax = fig.add_subplot()
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        ax.step(s.xs, [100 * y for y in s.ys], where="post", color=color, label=s.label, linewidth=1.8)
        ax.plot(s.xs, [100 * y for y in s.ys], "o", color=color, markersize=4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best score so far (%)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig)


def cost_plot(labels: Sequence[str], usage: Sequence[dict[str, dict[str, float]]]) -> str | None:
    """Tokens per run, stacked by role; None when no role used a token (every call came from the cache)."""
    roles = sorted({role for u in usage for role, r in u.items()
                    if r.get("prompt_tokens", 0) + r.get("completion_tokens", 0) > 0})
    if not roles:
        return None
    fig = _figure(7.0, 0.5 * len(labels) + 1.4)
    ax = fig.add_subplot()
    left = [0.0] * len(labels)
    for i, role in enumerate(roles):
        widths = [float(u.get(role, {}).get("prompt_tokens", 0) + u.get(role, {}).get("completion_tokens", 0))
                  for u in usage]
        ax.barh(range(len(labels)), widths, left=left, color=PALETTE[i % len(PALETTE)], label=role)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("LLM tokens (prompt + completion)")
    ax.legend(frameon=False, fontsize=8, ncol=len(roles), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


@dataclass
class RoundPoint:
    round: int
    tournament: float | None
    finals: float | None
    winner: bool


def rounds_plot(points: Sequence[RoundPoint]) -> str:
    """Each entrant's tournament score (dots) and finals score (squares) per round; the winner is filled."""
    fig = _figure(7.0, 3.0)
    ax = fig.add_subplot()
    for marker, stage in (("o", "tournament"), ("s", "finals")):
        color = PALETTE[0] if stage == "tournament" else PALETTE[3]
        offset = -0.08 if stage == "tournament" else 0.08
        for winner in (False, True):
            chosen = [(p.round, getattr(p, stage)) for p in points if getattr(p, stage) is not None
                      and p.winner == winner]
            if chosen:
                ax.scatter([r + offset for r, _ in chosen], [100 * v for _, v in chosen], marker=marker, s=36,
                           facecolors=color if winner else "none", edgecolors=color,
                           label=stage + (" (winner)" if winner else ""))
    rounds = sorted({p.round for p in points})
    ax.set_xticks(rounds)
    ax.set_xlim(rounds[0] - 0.5, rounds[-1] + 0.5)
    ax.set_xlabel("round")
    ax.set_ylabel("score (%)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4)
    return _svg(fig)
