"""What the GEPA and ACE baselines record: prompt diffs, and GEPA's lineage (each proposed prompt with its
parent, a unified diff against it, and its scores), all through the run's recorder.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from clue.bench.run.lineage import GepaDetails, Lineage, LineageEntry, Origin, StageScore
from clue.bench.run.record import RoundProgress
from clue.bench.run.recorder import RunRecorder
from clue.errors import BadInputError
from clue.evolve.budget import BudgetMeter
from clue.evolve.replies import ReplyCounts
from clue.evolve.watch import Reporter
from clue.memory.prompts import ExtractionPrompt, prompt_hash


def prompt_diff(parent: str, child: str, parent_label: str, child_label: str) -> str:
    lines = difflib.unified_diff(parent.splitlines(keepends=True), child.splitlines(keepends=True),
                                 fromfile=parent_label, tofile=child_label)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class GepaState(BaseModel):
    """GEPA's private resume state (gepa keeps its own in `gepa/`): where the run stands and the best so far."""

    method: str = "gepa"
    status: str = "running"
    iterations: int = 0
    perfect_minibatch_skips: int = 0
    trainset: list[str] = []
    valset: list[str] = []
    best_text: str | None = None
    best_val_score: float | None = None
    budget: dict[str, int | None] = {}
    stopped_by: str | None = None
    gepa_metric_call_cap: int | None = None
    replies: ReplyCounts = Field(default_factory=ReplyCounts)  # reflection replies, unusable ones counted


class LineageRecorder:
    """A gepa callback object: records each proposal (parent, diff, minibatch and validation scores), keeps
    the best candidate on the validation half, and rewrites the run files after every iteration.

    gepa calls it from its worker thread; nothing else touches it while gepa runs.
    """

    def __init__(self, recorder: RunRecorder, seed_prompt: ExtractionPrompt, component: str, *, resume: bool,
                 reporter: Reporter | None = None, guardrail_verdicts: dict[str, str | None] | None = None) -> None:
        self.recorder = recorder
        self.guardrail_verdicts = guardrail_verdicts if guardrail_verdicts is not None else {}
        self.reporter = reporter or Reporter()
        self.component = component
        self.seed_prompt = seed_prompt
        self.entries: dict[str, LineageEntry] = {}
        self.meter: BudgetMeter | None = None
        self.state = GepaState()
        self._parent_by_iteration: dict[int, str] = {}
        self._child_by_iteration: dict[int, str] = {}
        self._minibatch_before: float | None = None
        if resume:
            self._load()
        self.replies = self.state.replies

    @property
    def best_text(self) -> str:
        return self.state.best_text or self.seed_prompt.text

    @best_text.setter
    def best_text(self, text: str) -> None:
        self.state.best_text = text

    @property
    def best_score(self) -> float | None:
        return self.state.best_val_score

    # -- persistence -------------------------------------------------------------------------------------
    def _load(self) -> None:
        raw = self.recorder.load_private_state()
        if raw is not None:
            try:
                self.state = GepaState.model_validate_json(raw)
            except ValidationError:
                raise BadInputError(f"{self.recorder.private_state_path}: not the state of this GEPA run; "
                                    "start a new run directory") from None
            if '"best_hash"' in raw and self.state.best_text is None:  # kept the best's text in lineage.json
                raise BadInputError(f"{self.recorder.private_state_path}: a GEPA run of an earlier clue, which "
                                    "this one cannot resume; start a new run directory")
        lineage = self.recorder.load_lineage("gepa")
        self.entries = {e.id: e for e in lineage.entries} if lineage is not None else {}

    def save_state(self, *, status: str, meter: BudgetMeter, **fields: Any) -> None:
        self.meter = meter
        self.state = self.state.model_copy(update={"status": status, "budget": meter.summary(), **fields})
        self._flush()

    def _flush(self) -> None:
        self.recorder.save_private_state(self.state)
        self.recorder.record_lineage(Lineage(method="gepa", seed_hash=self.seed_prompt.hash,
                                             best_hash=prompt_hash(self.best_text),
                                             entries=list(self.entries.values())))
        self.recorder.write_best_prompt(self.best_text)

    # -- results -----------------------------------------------------------------------------------------
    def best_prompt(self) -> ExtractionPrompt:
        if self.best_text == self.seed_prompt.text:
            return self.seed_prompt
        return ExtractionPrompt(f"gepa-{prompt_hash(self.best_text)[:8]}", self.best_text)

    def _entry(self, text: str, iteration: int) -> LineageEntry:
        key = prompt_hash(text)
        if key not in self.entries:
            name = self.seed_prompt.name if key == self.seed_prompt.hash else f"gepa-{key[:8]}"
            self.entries[key] = LineageEntry(id=key, hash=key, name=name,
                                             origin=Origin(iteration=iteration), status="proposed",
                                             details=GepaDetails())
        return self.entries[key]

    @staticmethod
    def _details(entry: LineageEntry) -> GepaDetails:
        assert isinstance(entry.details, GepaDetails)
        return entry.details

    # -- gepa callbacks (called by name; unknown events are ignored) ------------------------------------
    def on_valset_evaluated(self, event: Any) -> None:
        text = event["candidate"][self.component]
        entry = self._entry(text, event["iteration"])
        score = float(event["average_score"])
        entry.scores["validation"] = StageScore(accuracy=score, n=event["num_examples_evaluated"])
        entry.status = "seed" if event["iteration"] == 0 and text == self.seed_prompt.text else "accepted"
        if self.best_score is None or score > self.best_score:
            self.state.best_val_score, self.best_text = score, text
        self._flush()
        self._record(int(event["iteration"]))

    def _record(self, iteration: int) -> None:
        """The run log's point for an iteration (the seed's validation is iteration 0, round 1)."""
        if self.meter is not None:
            best = prompt_hash(self.best_text)
            self.recorder.record_progress(RoundProgress(
                round=iteration + 1, rollouts_spent=self.meter.rollouts_spent,
                tokens_spent=self.meter.tokens_spent, best_hash=best, best_name=f"gepa-{best[:8]}",
                best_score=self.best_score, unusable_replies=dict(self.replies.unusable)))

    def on_iteration_start(self, event: Any) -> None:
        self.reporter.step("gepa", int(event["iteration"]), "reflective mutation")

    def on_evaluation_skipped(self, event: Any) -> None:
        if event["reason"] == "all_scores_perfect":
            self.state.perfect_minibatch_skips += 1

    def on_proposal_start(self, event: Any) -> None:
        self._parent_by_iteration[event["iteration"]] = event["parent_candidate"][self.component]

    def on_proposal_end(self, event: Any) -> None:
        child = event["new_instructions"].get(self.component)
        parent = self._parent_by_iteration.get(event["iteration"])
        if child is None or parent is None:
            return
        entry = self._entry(child, event["iteration"])
        parent_hash = prompt_hash(parent)
        if not entry.parents and entry.hash != parent_hash:
            entry.parents = [parent_hash]
            entry.diff = prompt_diff(parent, child, parent_hash, entry.id)
        self._child_by_iteration[event["iteration"]] = entry.id

    def _proposal_of(self, iteration: int) -> LineageEntry | None:
        key = self._child_by_iteration.get(iteration)
        return self.entries.get(key) if key else None

    def on_candidate_accepted(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None:
            entry.status = "accepted"
            self._details(entry).minibatch_after = event["new_score"]

    def on_candidate_rejected(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None and entry.status == "proposed":
            guardrail = self.guardrail_verdicts.get(entry.id)
            entry.status = "rejected"
            entry.reason = f"guardrail: {guardrail}" if guardrail else str(event["reason"])
            details = self._details(entry)
            details.minibatch_before, details.minibatch_after = event["old_score"], event["new_score"]
            self.reporter.rejected("gepa", int(event["iteration"]), entry.id, entry.reason)

    def on_evaluation_end(self, event: Any) -> None:
        """The parent's minibatch score, for the proposal made from it in the same iteration."""
        if event["candidate_idx"] is not None and event["has_trajectories"]:
            self._minibatch_before = float(sum(event["scores"]))

    def on_iteration_end(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None and self._details(entry).minibatch_before is None:
            self._details(entry).minibatch_before = self._minibatch_before
        self.state.iterations = int(event["iteration"])
        self._flush()
        self._record(int(event["iteration"]))  # every iteration, accepted or not
