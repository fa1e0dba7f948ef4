"""The typed run record (`log.json`, version 2), in the spirit of inspect_ai's eval log.

It holds the run's spec, status, results, usage per role, sample counts and, for evolutions, the per-round
progress and the seed-vs-best comparison. Every view (terminal tables, `clue show`, `clue report`) reads
this one schema; only `RunRecorder` writes it. A version-1 log (clue 0.x before the recorder) is read into
this schema; any other version is refused in one line naming the clue that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from clue.bench.run import files
from clue.bench.run.results import Results
from clue.errors import BadInputError, NotFoundError
from clue.fileio import write_atomic

if TYPE_CHECKING:
    from clue.config import Settings
    from clue.memory.prompts import ExtractionPrompt

RUNLOG_VERSION = 2
READABLE_VERSIONS = (1, 2)
Command = Literal["eval", "evolve", "demo"]
Status = Literal["running", "finished", "incomplete", "interrupted", "failed"]


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
    command: Command
    roles: dict[str, RoleSpec]
    data_root: str | None = None
    split: str | None = None
    datasets: list[str] = []
    limit: int | None = None  # eval: pairs per dataset; evolve: test pairs per dataset
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
    left_out: int = 0  # rollouts left out of this round's scores: infrastructure failures after retries
    complete: bool = True  # False: a token or call cap stopped the round part way (nothing after it ran)
    unusable_replies: dict[str, int] = {}  # optimizer step -> unusable replies so far (cumulative)


class EvolutionRecord(BaseModel):
    method: str
    progress: list[RoundProgress] = []
    stopped_by: str | None = None
    unusable_replies: dict[str, int] = {}  # optimizer step -> replies unusable after every re-ask, whole run
    best_hash: str | None = None
    budget: dict[str, int | None] = {}
    seed_results: Results | None = None  # the seed prompt on the test pairs
    best_results: Results | None = None  # the best prompt on the test pairs, with its gain over the seed


class SamplesRef(BaseModel):
    path: str = files.ROLLOUTS
    count: int = 0
    failed: int = 0  # infrastructure failures (excluded from scores)


class RunLog(BaseModel):
    version: int = RUNLOG_VERSION
    status: Status = "running"
    started: str
    finished: str | None = None
    spec: RunSpec
    results: Results | None = None  # eval and demo; an evolution's are in `evolution`
    usage: dict[str, dict[str, float]] = {}  # role -> calls, tokens, latency (cumulative over resumes)
    usage_by_endpoint: dict[str, dict[str, float]] = {}  # base URL -> the same counts, for endpoint calls
    samples: SamplesRef = SamplesRef()
    evolution: EvolutionRecord | None = None
    error: str | None = None
    warnings: list[str] = []  # what the run reported along the way (dropped rollout lines, cut replies)

    @property
    def all_results(self) -> list[Results]:
        if self.evolution is not None:
            return [r for r in (self.evolution.seed_results, self.evolution.best_results) if r is not None]
        return [self.results] if self.results is not None else []


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_runlog(run_dir: Path, log: RunLog) -> None:
    """Only the recorder (and tests that fabricate run dirs) call this."""
    write_atomic(run_dir / files.LOG, log.model_dump_json(indent=1))


def read_runlog(run_dir: Path) -> RunLog:
    """Read (and, from version 1, upgrade) the record; raises NotFoundError / BadInputError with the path."""
    path = run_dir / files.LOG if run_dir.is_dir() else run_dir
    if not path.exists():
        raise NotFoundError(f"{path}: no run log (is this a clue run directory?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: not a run log (a JSON object is expected)")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        writer = (data.get("spec") or {}).get("clue_version", "unknown") if isinstance(data.get("spec"), dict) \
            else "unknown"
        raise BadInputError(f"{path}: run log version {version!r} (written by clue {writer}); this clue reads "
                            f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    try:
        return RunLog.model_validate(upgrade_v1(data) if version == 1 else data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInputError(f"{path}: run log field {where}: {first['msg']}") from None


def upgrade_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 log in the version-2 shape: an evolution's results move into its evolution record."""
    out = {**data, "version": RUNLOG_VERSION}
    results = data.get("results")
    evolution = dict(data.get("evolution") or {}) if data.get("evolution") else None
    if isinstance(results, dict) and "datasets" not in results:
        out["results"] = None
        if evolution is None:
            evolution = {"method": (data.get("spec") or {}).get("method") or "unknown"}
        evolution.update(seed_results=results.get("seed"), best_results=results.get("best"),
                         best_hash=results.get("best_hash"), budget=results.get("budget") or {})
    out["evolution"] = evolution
    return out


def clue_version() -> str:
    from clue import __version__

    return __version__


def build_spec(command: Command, settings: Settings, prompt: ExtractionPrompt, *,
               description: Mapping[str, Any], method: str | None = None,
               repeats: Mapping[str, int] | None = None, knobs: Mapping[str, Any] | None = None) -> RunSpec:
    """The one spec builder: what `log.json` records and what a resume is checked against.
    `description` holds datasets, split, limit and data_root."""
    roles: dict[str, RoleSpec] = {
        role: RoleSpec(backend=c.backend, model=c.model, base_url=c.base_url, temperature=c.temperature,
                       top_p=c.top_p, max_tokens=c.max_tokens, thinking=c.thinking, seed=c.seed,
                       json_mode=c.json_mode, cut_thinking=c.cut_thinking,
                       constrained_answers=c.answers_constrained())
        for role, c in settings.roles.items()}
    data_root = description.get("data_root")
    return RunSpec(clue_version=clue_version(), command=command, roles=roles,
                   data_root=str(data_root) if data_root is not None else None, split=description.get("split"),
                   datasets=list(description.get("datasets") or []), limit=description.get("limit"),
                   repeats=dict(repeats or {}), prompt_name=prompt.name, prompt_hash=prompt.hash,
                   prompt_text=prompt.text, method=method, settings=dict(knobs or {}))


# What decides a reply: a resumed run may not change any of these for a role it uses.
DECIDING_FIELDS = ("backend", "model", "base_url", "temperature", "top_p", "max_tokens", "thinking", "seed",
                   "constrained_answers")
# What decides the run's scope: a resumed run may not change these either.
SCOPE_FIELDS = {"command": "command", "method": "--method", "prompt_hash": "prompt", "datasets": "--datasets",
                "split": "--split", "limit": "--limit", "repeats": "--repeats"}


def spec_change(previous: RunSpec, current: RunSpec, roles: tuple[str, ...]) -> str | None:
    """The first difference that a resume may not make, as "solver.temperature (0.7 there, 0.2 now)"."""
    for name, label in SCOPE_FIELDS.items():
        old, new = getattr(previous, name), getattr(current, name)
        if old != new:
            shown = (previous.prompt_name, current.prompt_name) if name == "prompt_hash" else (old, new)
            return f"{label} ({shown[0]!r} there, {shown[1]!r} now)"
    for role in roles:
        before, after = previous.roles.get(role), current.roles.get(role)
        if before is None or after is None:
            continue
        for name in DECIDING_FIELDS:
            old, new = getattr(before, name), getattr(after, name)
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
