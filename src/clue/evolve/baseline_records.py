"""What the GEPA and ACE baselines record: prompt diffs, and GEPA's lineage (each proposed prompt with its
parent, a unified diff against it, and its scores), all through the run's recorder.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from clue.bench.run.record import RoundProgress
from clue.bench.run.recorder import RunRecorder
from clue.evolve.budget import BudgetMeter
from clue.evolve.replies import ReplyCounts
from clue.evolve.watch import Reporter
from clue.memory.prompts import ExtractionPrompt, prompt_hash


def parse_json(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def prompt_diff(parent: str, child: str, parent_label: str, child_label: str) -> str:
    lines = difflib.unified_diff(parent.splitlines(keepends=True), child.splitlines(keepends=True),
                                 fromfile=parent_label, tofile=child_label)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


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
        self.entries: dict[str, dict[str, Any]] = {}
        self.meter: BudgetMeter | None = None
        self.best_text = seed_prompt.text
        self.best_score: float | None = None
        self._state: dict[str, Any] = {"method": "gepa", "iterations": 0, "perfect_minibatch_skips": 0}
        self._parent_by_iteration: dict[int, str] = {}
        self._child_by_iteration: dict[int, str] = {}
        self._minibatch_before: float | None = None
        if resume:
            self._load()
        self.replies = ReplyCounts.model_validate(self._state.get("replies") or {})  # reflection replies

    # -- persistence -------------------------------------------------------------------------------------
    def _load(self) -> None:
        for entry in parse_json(self.recorder.read_lineage()) or []:
            self.entries[entry["hash"]] = entry
        state = parse_json(self.recorder.load_private_state()) or {}
        self._state.update(state)
        best_hash = state.get("best_hash")
        if best_hash in self.entries:
            self.best_text = self.entries[best_hash]["prompt"]
            self.best_score = self.entries[best_hash].get("val_score")

    def save_state(self, *, status: str, meter: BudgetMeter, extra: dict[str, Any] | None = None) -> None:
        self.meter = meter
        self._state.update({"status": status, "budget": meter.summary(), **(extra or {})})
        self._flush()

    def _flush(self) -> None:
        self._state["best_hash"] = prompt_hash(self.best_text)
        self._state["best_val_score"] = self.best_score
        self._state["candidates"] = len(self.entries)
        self._state["replies"] = self.replies.model_dump()
        self.recorder.save_private_state(self._state)
        self.recorder.record_lineage(list(self.entries.values()))
        self.recorder.write_best_prompt(self.best_text)

    # -- results -----------------------------------------------------------------------------------------
    def best_prompt(self) -> ExtractionPrompt:
        if self.best_text == self.seed_prompt.text:
            return self.seed_prompt
        return ExtractionPrompt(f"gepa-{prompt_hash(self.best_text)[:8]}", self.best_text)

    def _entry(self, text: str, iteration: int) -> dict[str, Any]:
        key = prompt_hash(text)
        if key not in self.entries:
            self.entries[key] = {"hash": key, "parent": None, "iteration": iteration, "status": "proposed",
                                 "minibatch_before": None, "minibatch_after": None, "val_score": None,
                                 "reason": "", "diff": "", "prompt": text}
        return self.entries[key]

    # -- gepa callbacks (called by name; unknown events are ignored) ------------------------------------
    def on_valset_evaluated(self, event: Any) -> None:
        text = event["candidate"][self.component]
        entry = self._entry(text, event["iteration"])
        score = float(event["average_score"])
        entry["val_score"] = score
        entry["val_examples"] = event["num_examples_evaluated"]
        if event["iteration"] == 0 and text == self.seed_prompt.text:
            entry["status"] = "seed"
        else:
            entry["status"] = "accepted"
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_text = score, text
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
            self._state["perfect_minibatch_skips"] += 1

    def on_proposal_start(self, event: Any) -> None:
        self._parent_by_iteration[event["iteration"]] = event["parent_candidate"][self.component]

    def on_proposal_end(self, event: Any) -> None:
        child = event["new_instructions"].get(self.component)
        parent = self._parent_by_iteration.get(event["iteration"])
        if child is None or parent is None:
            return
        entry = self._entry(child, event["iteration"])
        parent_hash = prompt_hash(parent)
        if entry["parent"] is None and entry["hash"] != parent_hash:
            entry["parent"] = parent_hash
            entry["diff"] = prompt_diff(parent, child, parent_hash, entry["hash"])
        self._child_by_iteration[event["iteration"]] = entry["hash"]

    def _proposal_of(self, iteration: int) -> dict[str, Any] | None:
        key = self._child_by_iteration.get(iteration)
        return self.entries.get(key) if key else None

    def on_candidate_accepted(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None:
            entry["status"] = "accepted"
            entry["minibatch_after"] = event["new_score"]

    def on_candidate_rejected(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None and entry["status"] == "proposed":
            guardrail = self.guardrail_verdicts.get(entry["hash"])
            reason = f"guardrail: {guardrail}" if guardrail else str(event["reason"])
            entry.update(status="rejected", minibatch_before=event["old_score"],
                         minibatch_after=event["new_score"], reason=reason)
            self.reporter.rejected("gepa", int(event["iteration"]), entry["hash"], reason)

    def on_evaluation_end(self, event: Any) -> None:
        """The parent's minibatch score, for the proposal made from it in the same iteration."""
        if event["candidate_idx"] is not None and event["has_trajectories"]:
            self._minibatch_before = float(sum(event["scores"]))

    def on_iteration_end(self, event: Any) -> None:
        entry = self._proposal_of(event["iteration"])
        if entry is not None and entry["minibatch_before"] is None:
            entry["minibatch_before"] = self._minibatch_before
        self._state["iterations"] = int(event["iteration"])
        self._flush()
        self._record(int(event["iteration"]))  # every iteration, accepted or not
