"""One typed lineage for every method: an entry per candidate prompt (hash, name, parents, origin, status,
reason, diff, scores, and the method's own details), plus, for the tournament methods, what each round saw
(clusters, analyses, finalists). Every method writes `lineage.json` in this schema through the run's recorder;
`lineage_read.lineage_of` also reads the per-method layouts that clue wrote before it, so the report never looks
inside a method's layout."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, Field


class StageScore(BaseModel):
    accuracy: float | None = None  # in [0, 1]; None: nothing could be scored
    n: int | None = None
    tokens: int | None = None
    left_out: int = 0  # infrastructure failures left out of `accuracy`


class Origin(BaseModel):
    round: int | None = None  # tournament methods (1-based)
    iteration: int | None = None  # GEPA
    epoch: int | None = None  # ACE
    step: int | None = None  # ACE
    sample: str | None = None  # ACE: the pair key

    def label(self) -> str:
        parts = [(name, getattr(self, name)) for name in ("round", "iteration", "epoch", "step", "sample")]
        return ", ".join(f"{name} {value}" for name, value in parts if value is not None)


class Edit(BaseModel):
    section: str = ""
    operation: str = ""
    text: str = ""


class TournamentDetails(BaseModel):
    kind: Literal["tournament"] = "tournament"
    rejected: str | None = None  # why it never entered the tournament (guardrail or unusable reply)
    finalist: bool = False
    rationale: str = ""
    sources: list[str] = []  # analysis keys (cluster ids) the candidate was built from
    edits: list[Edit] = []
    notes: list[str] = []


class GepaDetails(BaseModel):
    kind: Literal["gepa"] = "gepa"
    minibatch_before: float | None = None  # sums over the minibatch, as gepa compares them
    minibatch_after: float | None = None


class AceDetails(BaseModel):
    kind: Literal["ace"] = "ace"
    pre_train_success: bool | None = None
    retries: int = 0
    retry_success: bool | None = None
    post_train_success: bool | None = None
    operations: list[str] = []
    reflection: str = ""
    bullets: int | None = None  # playbook size after the step
    playbook_tokens: int | None = None


Details = Annotated[TournamentDetails | GepaDetails | AceDetails, Field(discriminator="kind")]
EntryStatus = Literal["seed", "winner", "finals", "tournament", "rejected", "pending", "accepted", "proposed",
                      "unchanged"]


class LineageEntry(BaseModel):
    id: str  # unique in the lineage (a tournament candidate: "r<round>-<name>"; otherwise its hash)
    hash: str | None  # None: a candidate rejected before it had a text
    name: str
    parents: list[str] = []  # prompt hashes
    origin: Origin = Origin()
    status: EntryStatus
    reason: str = ""
    diff: str = ""
    scores: dict[str, StageScore] = {}  # stage ("batch", "tournament", "finals", "validation") -> score
    details: Details


class Cluster(BaseModel):
    id: str
    label: str = ""
    description: str = ""
    members: list[str] = []  # example ids of the round ("e01", ...)


class Analysis(BaseModel):
    key: str
    label: str = ""
    size: int = 0
    successes: int = 0
    success_analysis: str = ""
    failure_analysis: str = ""
    recommendations: list[str] = []
    risks: str = ""
    mode: str = ""
    steps: int = 0
    notes: list[str] = []


class RoundRecord(BaseModel):
    """What one tournament round saw: its base, batch, clusters, analyses and result."""

    round: int
    base_hash: str
    base_name: str
    step_reached: str = "start"
    batch: list[str] = []  # pair keys
    clusters: list[Cluster] = []
    cluster_repairs: list[str] = []
    analyses: list[Analysis] = []
    tournament: dict[str, StageScore] = {}  # prompt hash -> score
    finals: dict[str, StageScore] = {}
    finalists: list[str] = []
    finals_pairs: list[str] = []  # pair keys of the finals
    winner_hash: str | None = None
    winner_name: str | None = None
    new_rollouts: int = 0
    reused_rollouts: int = 0


LINEAGE_FORMAT: Final = "clue-lineage"
LINEAGE_VERSION = 1


class Lineage(BaseModel):
    format: Literal["clue-lineage"] = LINEAGE_FORMAT  # tells this schema from the per-method layouts before it
    version: int = LINEAGE_VERSION
    method: str
    seed_hash: str | None = None
    best_hash: str | None = None
    entries: list[LineageEntry] = []
    rounds: list[RoundRecord] = []
