"""`clue study plan`: rollouts, LLM calls and tokens per role for every cell, before any call.

Per rollout, a cell's load is, in order of preference: the cell's own finished run; the measured average of
finished cells on the same dataset (under the study's --out); an estimate from the data on disk (the
extraction request's real length, the target's real length; completions at the role's max_tokens, so an
estimate is an upper bound on completions). Tokens are counted as characters / 4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clue.bench.data.datasets import get_dataset
from clue.bench.data.records import Pair
from clue.bench.data.split import Split
from clue.config import Settings
from clue.study.cells import Cell, cells_dir
from clue.study.reader import read_cell
from clue.study.spec import StudyFile

CHARS_PER_TOKEN = 4
SOLVER_SYSTEM_TOKENS = 150  # the solver's instructions around the query (system prompt, format lines)
JUDGED = frozenset({"longmemeval", "toolbench"})
SOPR_VOTES = 3
DEFAULT_CONTEXT = 32768  # what the openai backend assumes when no context_size is set


@dataclass
class RoleLoad:
    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0

    def scaled(self, factor: float) -> RoleLoad:
        return RoleLoad(self.calls * factor, self.prompt_tokens * factor, self.completion_tokens * factor)

    def add(self, other: RoleLoad) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class CellPlan:
    cell: Cell
    pairs: int
    repeats: int
    rollouts: int
    roles: dict[str, RoleLoad]
    basis: str  # finished | measured | estimated | no data
    status: str = "missing"

    @property
    def tokens(self) -> float:
        return sum(load.tokens for load in self.roles.values())


@dataclass
class StudyPlan:
    cells: list[CellPlan]
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, RoleLoad]:
        out: dict[str, RoleLoad] = {}
        for plan in self.cells:
            for role, load in plan.roles.items():
                out.setdefault(role, RoleLoad()).add(load)
        return out

    @property
    def rollouts(self) -> int:
        return sum(p.rollouts for p in self.cells)

    @property
    def tokens(self) -> float:
        return sum(p.tokens for p in self.cells)


def tokens_of(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


def estimate_per_rollout(pairs: list[Pair], prompt_text: str | None, settings: Settings) -> dict[str, RoleLoad]:
    """Average load of one rollout over `pairs` from their real lengths (see the module docstring)."""
    from clue.memory.render import extraction_messages

    loads: dict[str, RoleLoad] = {}
    extract_out = 0.0
    if prompt_text is not None:
        extract_out = float(settings.role("extractor").max_tokens)
        prompt = sum(sum(tokens_of(m["content"]) for m in extraction_messages(prompt_text, p.source))
                     for p in pairs) / len(pairs)
        loads["extractor"] = RoleLoad(1.0, prompt, extract_out)
    solver_max = float(settings.role("solver").max_tokens)
    target = sum(tokens_of(json.dumps(p.target)) for p in pairs) / len(pairs)
    base = SOLVER_SYSTEM_TOKENS + target + extract_out
    steps, turn = _episode_shape(pairs)
    # An episode re-sends its growing history each step, cut to the context window when it outgrows it.
    window = float(settings.role("solver").context_size or DEFAULT_CONTEXT)
    prompt_total = sum(min(window, base + step * turn) for step in range(max(1, round(steps))))
    loads["solver"] = RoleLoad(steps, prompt_total, steps * (min(solver_max, turn) if steps > 1 else solver_max))
    name = pairs[0].dataset.lower()
    if name in JUDGED:
        votes = SOPR_VOTES if name == "toolbench" else 1
        loads["judge"] = RoleLoad(votes, votes * (target + solver_max * steps),
                                  votes * settings.role("judge").max_tokens)
    return loads


def _episode_shape(pairs: list[Pair]) -> tuple[float, float]:
    """(solver calls per rollout, tokens per step's exchange): agentic episodes take about as many steps as
    their source trajectories did; every other dataset is one solver call."""
    if pairs[0].source_kind != "trajectory":
        return 1.0, 0.0
    counts = [sum(1 for t in p.source_messages if t.role == "assistant") for p in pairs]
    chars = [sum(len(t.content) for t in p.source_messages[1:]) for p in pairs]
    steps = max(1.0, sum(counts) / len(counts))
    return steps, sum(chars) / max(1, sum(counts)) / CHARS_PER_TOKEN


def measured_per_rollout(out: Path | None, cells: list[Cell]) -> dict[str, dict[str, RoleLoad]]:
    """dataset -> role -> average load per rollout, over the finished eval cells with memory under `out`."""
    if out is None:
        return {}
    sums: dict[str, dict[str, RoleLoad]] = {}
    counts: dict[str, int] = {}
    for cell in cells:
        if cell.kind != "eval" or cell.prompt_arg == "no-memory":
            continue
        record = read_cell(cells_dir(out) / cell.name, with_rollouts=True)
        if not record.finished:
            continue
        for dataset, roles in record.role_totals.items():
            counts[dataset] = counts.get(dataset, 0) + record.rollouts.get(dataset, 0)
            for role, (calls, prompt, completion) in roles.items():
                sums.setdefault(dataset, {}).setdefault(role, RoleLoad()).add(RoleLoad(calls, prompt, completion))
    return {d: {r: load.scaled(1 / counts[d]) for r, load in roles.items()} for d, roles in sums.items()
            if counts.get(d)}


PairLoader = Callable[[str, str], list[Pair]]


def plan_eval_cell(cell: Cell, study: StudyFile, pairs: list[Pair], settings: Settings,
                   measured: dict[str, dict[str, RoleLoad]], out: Path | None, data_root: Path) -> CellPlan:
    from clue.bench.data.loader import count_sources

    name = cell.datasets[0]
    if not pairs:
        return CellPlan(cell, 0, 0, 0, {}, "no data")
    requested = study.repeats if isinstance(study.repeats, int) else None
    # The rule `clue eval` applies: the dataset's repeats for its number of sources in the split (before --limit).
    split: Split = "ood" if cell.split == "ood" else "test"
    repeats = get_dataset(name).repeats.runs_for(count_sources(data_root, name, split), requested)
    rollouts = len(pairs) * repeats
    record = read_cell(cells_dir(out) / cell.name, with_rollouts=True) if out is not None else None
    if record is not None and record.finished and record.rollouts.get(name):
        own = {r: RoleLoad(*v).scaled(1 / record.rollouts[name]) for r, v in record.role_totals.get(name, {}).items()}
        basis, per_rollout = "finished", own
    elif name in measured:
        basis, per_rollout = "measured", dict(measured[name])
        if cell.prompt_arg == "no-memory":
            per_rollout.pop("extractor", None)
    else:
        prompt_text = _prompt_text(cell)
        basis, per_rollout = "estimated", estimate_per_rollout(pairs, prompt_text, settings)
    return CellPlan(cell, len(pairs), repeats, rollouts, {r: v.scaled(rollouts) for r, v in per_rollout.items()},
                    basis, status=record.status if record is not None else "missing")


def _prompt_text(cell: Cell) -> str | None:
    """The cell's prompt text; None for no-memory. An evolved prompt not written yet is costed as its seed."""
    from clue.memory.prompts import load_prompt

    if cell.prompt_arg == "no-memory":
        return None
    if cell.after is not None and not Path(cell.prompt_arg).is_file():
        seed = cell.optimizer.seed_prompt if cell.optimizer is not None else "simple"
        return load_prompt(seed).text or None
    if not Path(cell.prompt_arg).is_file() and cell.prompt_arg.endswith(".txt"):
        return load_prompt("simple").text  # a best_of run not finished yet: costed like the seed
    return load_prompt(cell.prompt_arg).text or None


def dataset_category(name: str) -> str:
    return get_dataset(name).category


def evolve_rounds_shape(study: StudyFile, cell: Cell) -> tuple[float, float, int, int]:
    """(rounds run, rollouts, optimizer calls per round, optimizer prompt tokens per call) of an evolve cell:
    CluE's round (tournament of the base and candidates on a batch, then finals), cut by the rollout budget.
    GEPA and ACE spend differently; for them this is a rough figure."""
    from dataclasses import fields

    from clue.evolve.protocol import EvolveSettings

    known = {f.name for f in fields(EvolveSettings)}
    chosen = {**study.evolve, **(cell.optimizer.settings if cell.optimizer else {})}
    settings = EvolveSettings(**{k.replace("-", "_"): v for k, v in chosen.items() if k.replace("-", "_") in known})
    per_round = settings.batch * (settings.candidates + 1) + settings.top * (settings.resample + settings.batch)
    budget = cell.optimizer.budget_rollouts if cell.optimizer else None
    rounds = float(settings.rounds) if budget is None else min(float(settings.rounds), budget / per_round)
    calls = settings.max_clusters + settings.candidates + 2  # analyses, syntheses, summary and clustering
    # An analyst reads its cluster's cases (summaries of about summary_chars each); a synthesis reads the analyses.
    case_tokens = (settings.summary_chars or 4096) / CHARS_PER_TOKEN
    prompt_per_call = settings.batch / max(1, settings.max_clusters) * case_tokens
    return rounds, rounds * per_round if budget is None else float(budget), calls, int(prompt_per_call)


def plan_evolve_cell(cell: Cell, study: StudyFile, train: list[Pair], settings: Settings,
                     measured: dict[str, dict[str, RoleLoad]], out: Path | None) -> CellPlan:
    rounds, rollouts, calls, prompt_per_call = evolve_rounds_shape(study, cell)
    record = read_cell(cells_dir(out) / cell.name) if out is not None else None
    if not train:
        return CellPlan(cell, 0, 1, 0, {}, "no data")
    per_rollout: dict[str, RoleLoad] = {}
    by_dataset: dict[str, list[Pair]] = {}
    for pair in train:
        by_dataset.setdefault(pair.dataset, []).append(pair)
    seed_text = _prompt_text(cell)
    for name, pairs in by_dataset.items():  # the training pool mixes datasets in proportion to their pairs
        share = len(pairs) / len(train)
        loads = measured.get(name) or estimate_per_rollout(pairs, seed_text, settings)
        for role, load in loads.items():
            per_rollout.setdefault(role, RoleLoad()).add(load.scaled(share))
    roles = {role: load.scaled(rollouts) for role, load in per_rollout.items()}
    optimizer_max = settings.role("optimizer").max_tokens
    roles["optimizer"] = RoleLoad(rounds * calls, rounds * calls * prompt_per_call, rounds * calls * optimizer_max)
    basis = "estimated"
    if record is not None and record.finished and record.usage:
        basis, roles = "finished", {role: RoleLoad(u.get("calls", 0.0), u.get("prompt_tokens", 0.0),
                                                   u.get("completion_tokens", 0.0))
                                    for role, u in record.usage.items() if u.get("calls")}
    return CellPlan(cell, len(train), 1, int(rollouts), roles, basis,
                    status=record.status if record is not None else "missing")


def make_plan(study: StudyFile, cells: list[Cell], settings: Settings, data_root: Path, out: Path | None,
              warn: Callable[[str], None]) -> StudyPlan:
    from clue.bench.data.loader import load_pairs

    loaded: dict[tuple[str, str], list[Pair]] = {}

    def pairs(name: str, split: str, limit: int | None) -> list[Pair]:
        if (name, split) not in loaded:
            loaded[(name, split)] = load_pairs(data_root, name, split, limit=limit,  # type: ignore[arg-type]
                                               warn=lambda _: None)
        return loaded[(name, split)]

    measured = measured_per_rollout(out, cells)
    plans: list[CellPlan] = []
    for cell in cells:
        if cell.kind == "evolve":
            train = [p for name in cell.datasets for p in pairs(name, "train", None)]
            plans.append(plan_evolve_cell(cell, study, train, settings, measured, out))
        else:
            plans.append(plan_eval_cell(cell, study, pairs(cell.datasets[0], cell.split, study.limit), settings,
                                        measured, out, data_root))
    empty = sorted({p.cell.datasets[0] for p in plans if p.basis == "no data" and p.cell.kind == "eval"})
    notes = [f"no pairs on disk under {data_root} for: {', '.join(empty)} (counted as 0)"] if empty else []
    if any(p.cell.kind == "evolve" for p in plans):
        notes.append("evolve cells: the rollout budget, plus optimizer calls from the round's shape (rough)")
    for note in notes:
        warn(note)
    return StudyPlan(plans, notes)
