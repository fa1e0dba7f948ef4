"""Private run state of the tournament optimizers (CluE, MemEvolve), saved through the run's recorder.

It holds everything a killed run needs to continue without asking the optimizer LLM again for a finished
summary, clustering, analysis or candidate: the round, the cursor into the shuffled training pool, the
cluster pool, every prompt seen, each round's step results and scores, and the step reached. Rollouts
themselves live in the harness's store, so no finished rollout is redone either. Nothing but the optimizer
reads it: views read the run record and the lineage.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from clue.bench.run.recorder import RunRecorder
from clue.errors import BadInputError
from clue.evolve.harness import PromptScore
from clue.evolve.replies import ReplyCounts
from clue.memory.prompts import ExtractionPrompt

STATE_VERSION = 1


class PromptRecord(BaseModel):
    name: str
    text: str
    hash: str
    parent: str | None = None  # hash of the prompt it was edited from
    round: int | None = None  # round that produced it (None for the seed)

    @classmethod
    def of(cls, prompt: ExtractionPrompt, *, parent: str | None = None,
           round: int | None = None) -> PromptRecord:
        return cls(name=prompt.name, text=prompt.text, hash=prompt.hash, parent=parent, round=round)

    def prompt(self) -> ExtractionPrompt:
        return ExtractionPrompt(self.name, self.text)


class ScoreRecord(BaseModel):
    prompt_hash: str
    name: str
    accuracy: float | None  # None: every rollout failed for an infrastructure reason
    tokens: int
    seconds: float
    n: int
    left_out: int = 0  # infrastructure failures left out of `accuracy`

    @classmethod
    def of(cls, score: PromptScore, name: str) -> ScoreRecord:
        return cls(prompt_hash=score.prompt_hash, name=name, accuracy=score.accuracy, tokens=score.tokens,
                   seconds=score.seconds, n=score.n, left_out=score.left_out)

    def score(self) -> PromptScore:
        return PromptScore(self.prompt_hash, self.accuracy, self.tokens, self.seconds, self.n, self.left_out)


class PoolCluster(BaseModel):
    """A scenario cluster kept across rounds (the persistent pool): no members, they change every round."""

    id: str
    label: str
    description: str = ""
    last_round: int = 0


class ClusterRecord(BaseModel):
    id: str
    label: str
    description: str = ""
    members: list[str] = Field(default_factory=list)  # example ids of this round ("e01", ...)


class AnalysisRecord(BaseModel):
    key: str  # cluster id, or "global-<i>" for MemEvolve
    label: str
    size: int
    successes: int
    success_analysis: str = ""
    failure_analysis: str = ""
    recommendations: list[str] = Field(default_factory=list)
    risks: str = ""  # MemEvolve's overfitting warnings
    mode: str = "tools"  # "tools" | "context" | "failed"
    steps: int = 0
    notes: list[str] = Field(default_factory=list)


class EditRecord(BaseModel):
    section: str
    operation: str
    text: str


class CandidateRecord(BaseModel):
    index: int
    name: str
    parent: str  # hash of the base it edits
    text: str | None = None
    hash: str | None = None
    edits: list[EditRecord] = Field(default_factory=list)
    rationale: str = ""
    sources: list[str] = Field(default_factory=list)  # analysis keys it was built from
    rejected: str | None = None  # guardrail (or other) reason; None when it entered the tournament
    notes: list[str] = Field(default_factory=list)

    def prompt_record(self, round_index: int) -> PromptRecord | None:
        """The prompt it entered the tournament with; None for a rejected candidate."""
        if self.run_hash is None or self.text is None:
            return None
        return PromptRecord(name=self.name, text=self.text, hash=self.run_hash, parent=self.parent,
                            round=round_index)

    @property
    def run_hash(self) -> str | None:
        """The hash its scores are filed under; None for a rejected candidate, which never ran (its text may even
        equal the base's, whose scores are not its own)."""
        return None if self.rejected else self.hash


class RoundState(BaseModel):
    index: int
    base_hash: str
    batch: list[str]  # pair keys
    done: list[str] = Field(default_factory=list)  # finished steps
    base_score: ScoreRecord | None = None
    summaries: dict[str, str] = Field(default_factory=dict)  # example id -> scenario summary
    clusters: list[ClusterRecord] = Field(default_factory=list)
    cluster_notes: list[str] = Field(default_factory=list)  # repairs applied to the clusterer's answer
    analyses: dict[str, AnalysisRecord] = Field(default_factory=dict)
    candidates: dict[str, CandidateRecord] = Field(default_factory=dict)  # str(index) -> candidate
    tournament: list[ScoreRecord] = Field(default_factory=list)
    finalists: list[str] = Field(default_factory=list)
    finals_pairs: list[str] = Field(default_factory=list)
    finals: list[ScoreRecord] = Field(default_factory=list)
    winner: str | None = None
    new_rollouts: int = 0
    reused_rollouts: int = 0

    @property
    def complete(self) -> bool:
        return self.winner is not None and "finals" in self.done

    def sorted_candidates(self) -> list[CandidateRecord]:
        return [self.candidates[k] for k in sorted(self.candidates, key=int)]


class RunState(BaseModel):
    version: int = STATE_VERSION
    method: str
    seed: int
    settings: dict[str, Any] = Field(default_factory=dict)
    pool: list[str]  # shuffled training pair keys
    cursor: int = 0  # index into `pool` of the next round's batch
    completed_rounds: int = 0
    base: str  # hash of the current base prompt (the best so far)
    seed_hash: str
    prompts: dict[str, PromptRecord] = Field(default_factory=dict)
    cluster_pool: list[PoolCluster] = Field(default_factory=list)
    next_cluster: int = 1
    rounds: list[RoundState] = Field(default_factory=list)
    step: str = "start"  # the step reached, e.g. "round 2: analyze"
    stopped_by: str | None = None
    finished: bool = False
    budget: dict[str, int | None] = Field(default_factory=dict)
    replies: ReplyCounts = Field(default_factory=ReplyCounts)  # optimizer replies per step, unusable ones counted

    def prompt(self, prompt_hash: str) -> ExtractionPrompt:
        return self.prompts[prompt_hash].prompt()

    def remember(self, record: PromptRecord) -> None:
        self.prompts.setdefault(record.hash, record)

    @property
    def open_round(self) -> RoundState | None:
        if self.rounds and not self.rounds[-1].complete:
            return self.rounds[-1]
        return None

    def new_cluster_id(self) -> str:
        cid = f"c{self.next_cluster}"
        self.next_cluster += 1
        return cid


StepField = Literal["summaries", "analyses", "candidates"]


class _Step(BaseModel):
    round: int  # RoundState.index
    key: str
    replies: ReplyCounts  # the run's reply counts once this result was in


class StepSummary(_Step):
    field: Literal["summaries"] = "summaries"
    value: str


class StepAnalysis(_Step):
    field: Literal["analyses"] = "analyses"
    value: AnalysisRecord


class StepCandidate(_Step):
    field: Literal["candidates"] = "candidates"
    value: CandidateRecord


StepResult = Annotated[StepSummary | StepAnalysis | StepCandidate, Field(discriminator="field")]
_STEP_RESULT: TypeAdapter[StepSummary | StepAnalysis | StepCandidate] = TypeAdapter(StepResult)


def step_result(field: StepField, round_index: int, key: str, value: object, replies: ReplyCounts) -> BaseModel:
    """One finished result of a concurrent step (a summary, an analysis, a candidate), as journaled."""
    return _STEP_RESULT.validate_python({"field": field, "round": round_index, "key": key, "value": value,
                                         "replies": replies})


def _replies_seen(counts: ReplyCounts) -> int:
    return sum(counts.asked.values()) + counts.candidates


def _fold(state: RunState, result: StepSummary | StepAnalysis | StepCandidate) -> None:
    """Put a journaled result back where its job put it."""
    if result.round >= len(state.rounds):
        return
    rs = state.rounds[result.round]
    getattr(rs, result.field)[result.key] = result.value
    if _replies_seen(result.replies) >= _replies_seen(state.replies):  # a crash may leave a stale journal behind
        state.replies = result.replies
    entered = result.value.prompt_record(rs.index) if isinstance(result.value, CandidateRecord) else None
    if entered is not None:
        state.remember(entered)


def load_state(recorder: RunRecorder) -> RunState | None:
    """The tournament optimizer's private state from an earlier process of this run, if any, with the results
    journaled after it was last written folded back in."""
    text = recorder.load_private_state()
    if text is None:
        return None
    try:
        state = RunState.model_validate_json(text)
    except ValueError as exc:
        raise BadInputError(f"{recorder.private_state_path}: cannot resume, state file is unreadable: "
                            f"{str(exc).splitlines()[0]}") from None
    for line in recorder.private_results():
        try:
            result = _STEP_RESULT.validate_json(line)
        except ValidationError:
            continue  # torn by a crash mid-write: that job is run again
        _fold(state, result)
    return state
