"""One versioned log per run directory (`log.json`), in the spirit of inspect_ai's eval log.

It holds the run's spec, status, results, usage per role and pointers to the samples (`rollouts.jsonl`)
and, for evolutions, to `state.json` / `lineage.json` and the per-round progress. Every view (terminal
tables, `clue show`, `clue report`) reads this one schema.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from clue.errors import BadInputError, NotFoundError

if TYPE_CHECKING:
    from clue.config import Settings

RUNLOG = "log.json"
RUNLOG_VERSION = 1


class RoleSpec(BaseModel):
    backend: str
    model: str
    base_url: str | None = None
    temperature: float
    top_p: float
    max_tokens: int
    thinking: bool | None = None  # None: the endpoint's default (no enable_thinking sent)
    seed: int | None = None
    json_mode: str | None = None  # how structured calls ask for JSON ("none": free text, parsed)
    cut_thinking: str | None = None  # extractor: a reply cut inside <think> kept "raw" or made "empty"
    constrained_answers: bool | None = None  # final answers held to the task's format (None: not recorded)


class RunSpec(BaseModel):
    clue_version: str
    command: Literal["eval", "evolve", "demo"]
    roles: dict[str, RoleSpec]
    data_root: str | None = None
    split: str | None = None
    datasets: list[str] = []
    limit: int | None = None
    repeats: dict[str, int] = {}
    prompt_name: str | None = None  # eval: the prompt evaluated; evolve: the seed
    prompt_hash: str | None = None
    prompt_text: str | None = None
    method: str | None = None  # evolve
    settings: dict[str, Any] = {}  # every knob of the command (evolve settings, budget, solver options)


class RoundProgress(BaseModel):
    """One point of an evolution's progress curve: after `round`, what was spent and what is best."""

    round: int
    rollouts_spent: int
    tokens_spent: int
    best_hash: str
    best_name: str
    best_score: float | None = None  # the best prompt's score on the data it was chosen on
    tournament: dict[str, float] = {}  # prompt hash -> accuracy
    finals: dict[str, float] = {}
    usage: dict[str, dict[str, float]] = {}  # role -> the ledger's cumulative snapshot after the round (optional)
    complete: bool = True  # False: a token or call cap stopped the round part way (nothing after it ran)
    unusable_replies: dict[str, int] = {}  # optimizer step -> unusable replies so far (cumulative)


class EvolutionLog(BaseModel):
    method: str
    state_path: str = "state.json"
    lineage_path: str = "lineage.json"
    best_prompt_path: str = "best_prompt.txt"
    progress: list[RoundProgress] = []
    stopped_by: str | None = None
    unusable_replies: dict[str, int] = {}  # optimizer step -> replies unusable after every re-ask, whole run


class SamplesRef(BaseModel):
    path: str = "rollouts.jsonl"
    count: int = 0
    failed: int = 0  # infrastructure failures (excluded from scores)


class RunLog(BaseModel):
    version: int = RUNLOG_VERSION
    status: Literal["running", "finished", "interrupted", "failed"] = "running"
    started: str
    finished: str | None = None
    spec: RunSpec
    results: dict[str, Any] | None = None  # clue.bench.run.results.Results, dumped
    usage: dict[str, dict[str, float]] = {}  # role -> calls, tokens, latency (cumulative over resumes)
    samples: SamplesRef = SamplesRef()
    evolution: EvolutionLog | None = None
    error: str | None = None
    warnings: list[str] = []  # what the run reported along the way (dropped rollout lines, cut replies)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_runlog(run_dir: Path, log: RunLog) -> None:
    tmp = run_dir / (RUNLOG + ".tmp")
    tmp.write_text(log.model_dump_json(indent=1))
    os.replace(tmp, run_dir / RUNLOG)


def read_runlog(run_dir: Path) -> RunLog:
    """Read and check the version; raises NotFoundError / BadInputError with the path."""
    path = run_dir / RUNLOG if run_dir.is_dir() else run_dir
    if not path.exists():
        raise NotFoundError(f"{path}: no run log (is this a clue run directory?)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    version = data.get("version")
    if version != RUNLOG_VERSION:
        raise BadInputError(f"{path}: run log version {version!r}; this clue reads version {RUNLOG_VERSION}")
    return RunLog.model_validate(data)


# What decides a reply: a resumed run may not change any of these for a role it uses.
DECIDING_FIELDS = ("backend", "model", "base_url", "temperature", "top_p", "max_tokens", "thinking", "seed",
                   "constrained_answers")


def clue_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clue")
    except PackageNotFoundError:
        return "unknown"


def role_specs(settings: Settings) -> dict[str, RoleSpec]:
    return {role: RoleSpec(backend=config.backend, model=config.model, base_url=config.base_url,
                           temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_tokens,
                           thinking=config.thinking, seed=config.seed, json_mode=config.json_mode,
                           cut_thinking=config.cut_thinking, constrained_answers=config.answers_constrained())
            for role, config in settings.roles.items()}


def spec_change(previous: RunSpec, current: RunSpec, roles: tuple[str, ...]) -> str | None:
    """The first setting of `roles` that differs, as "solver.temperature (0.7 there, 0.2 now)"; else None."""
    for role in roles:
        before, now = previous.roles.get(role), current.roles.get(role)
        if before is None or now is None:
            continue
        for name in DECIDING_FIELDS:
            old, new = getattr(before, name), getattr(now, name)
            if old != new:
                return f"{role}.{name} ({old!r} there, {new!r} now)"
    return _dataset_settings_change(previous, current)


def _dataset_settings_change(previous: RunSpec, current: RunSpec) -> str | None:
    """The first per-dataset solver setting (max tokens, stop, examples, step cap) that differs between
    two specs, for datasets both record (`settings.solvers.datasets`); else None."""
    before = previous.settings.get("solvers", {}).get("datasets") or {}
    now = current.settings.get("solvers", {}).get("datasets") or {}
    for dataset in sorted(set(before) & set(now)):
        for name in sorted(set(before[dataset]) | set(now[dataset])):
            old, new = before[dataset].get(name), now[dataset].get(name)
            if old != new:
                return f"{dataset} solver {name} ({old!r} there, {new!r} now)"
    return None


def check_resume(run_dir: Path, spec: RunSpec, roles: tuple[str, ...]) -> RunLog | None:
    """The run log to continue, or None when the directory has none. Refuses, in one line, a resume under a
    different model, backend, endpoint or decoding: one run must not mix two models' rollouts."""
    if not (run_dir / RUNLOG).exists():
        return None
    previous = read_runlog(run_dir)
    changed = spec_change(previous.spec, spec, roles)
    if changed is not None:
        raise BadInputError(f"{run_dir}: --resume with a different {changed}; "
                            "continue with the run's settings or choose a new --out")
    return previous


def update_runlog(run_dir: Path, **changes: Any) -> RunLog:
    """Read the run log, change top-level fields, write it back atomically."""
    log = read_runlog(run_dir).model_copy(update=changes)
    write_runlog(run_dir, log)
    return log


def append_progress(run_dir: Path, method: str, progress: RoundProgress, *, stopped_by: str | None = None) -> None:
    """Add one round to an evolution's progress curve (called by the optimizers after each round)."""
    log = read_runlog(run_dir)
    evolution = log.evolution or EvolutionLog(method=method)
    rounds = [p for p in evolution.progress if p.round != progress.round] + [progress]
    evolution = evolution.model_copy(update={"progress": sorted(rounds, key=lambda p: p.round),
                                             "stopped_by": stopped_by or evolution.stopped_by})
    write_runlog(run_dir, log.model_copy(update={"evolution": evolution}))
