"""The ACE baseline as the study runs it: offline, per sample, over a structured playbook.

For each training pair, in a seeded order, for `ace_epochs` passes:
1. generator: the extractor runs under the rendered playbook (`Playbook.render`), reports the bullets it
   used (JSON reply, see `clue.memory.extract`), and the solver answers; through our harness, so every
   rollout is stored and budgeted;
2. reflector: on an incorrect sample, up to `ace_reflect_rounds` rounds of reflect (diagnose, tag the
   bullets used helpful/harmful/neutral) then re-extract with the reflection, until it succeeds; on a
   correct sample, one reflection. Tags update the bullets' counters;
3. curator: every `ace_curator_every` samples, turns the latest reflection into structured operations on
   the playbook (memory types, their bullets, general guidelines), told the playbook's token budget, which
   is then enforced;
4. optionally (the reference does) the sample is run once more under the curated playbook to track
   post-train accuracy.
The retry's reflection goes into the extractor's system prompt (the reference puts it in the user turn; our
harness keys rollouts by system prompt). After every sample the private state, the lineage and
`best_prompt.txt` are rewritten; a resumed run redoes only the unfinished sample, its rollouts from the store.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from clue.bench.data.records import Pair
from clue.bench.run.lineage import AceDetails, Lineage, LineageEntry, Origin
from clue.bench.run.record import RoundProgress
from clue.bench.run.recorder import RunRecorder
from clue.bench.run.rollouts import Rollout
from clue.errors import BadInputError
from clue.evolve.ace_playbook import CuratorOp, Playbook, seed_playbook
from clue.evolve.baseline_records import prompt_diff
from clue.evolve.budget import BudgetExhausted, BudgetMeter
from clue.evolve.feedback import FeedbackPolicy, QueryFn, render_rollout, succeeded, task_query
from clue.evolve.guardrails import LeakChecker
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.replies import Replies, ReplyCounts
from clue.evolve.watch import Reporter
from clue.llm.types import Message
from clue.memory.extract import CITED_NOTE
from clue.memory.prompts import ExtractionPrompt, prompt_hash


class BulletTag(BaseModel):
    id: str
    tag: Literal["helpful", "harmful", "neutral"]


class Reflection(BaseModel):
    """The reflector's diagnosis; a reply without a diagnosis and a key insight (e.g. JSON with other keys) is
    not usable."""

    input_summary: str = ""
    diagnosis: str
    root_cause: str = ""
    correct_approach: str = ""
    key_insight: str
    bullet_tags: list[BulletTag] = Field(default_factory=list)

    def for_extractor(self) -> str:
        """What the retry's extractor is told: the diagnosis without the source summary."""
        return json.dumps(self.model_dump(exclude={"input_summary", "bullet_tags"}), ensure_ascii=False)


class Curation(BaseModel):
    """The curator's operations (an empty list when nothing should change; a reply without the list is not
    usable)."""

    reasoning: str = ""
    operations: list[CuratorOp]


REFLECTOR_SYSTEM = """You diagnose a memory extraction. An extractor turned a source conversation into a \
memory under a playbook of rules; a solver then used that memory on a target query, with the outcome shown.
- Judge the extraction strategy from the extractor's choices and the downstream result: was the memory \
relevant, lasting, non-redundant, actionable, compact and safe? Find the root cause of success or failure, \
not surface wording.
- Tag each playbook bullet the extractor used as helpful, harmful or neutral, by what it actually did here.
- Do not write or rewrite the memory itself, do not quote or paraphrase details of these conversations, \
and do not write rules for this one episode: generalize, using placeholders (USER, TASK, TOOL) if needed.
Reply with JSON only: {"input_summary": "<neutral one-line summary of the source, no outcome>", \
"diagnosis": "...", "root_cause": "...", "correct_approach": "<reusable extraction guidance>", \
"key_insight": "<the most general principle>", "bullet_tags": [{"id": "gen-00001", "tag": "helpful"}]}"""

CURATOR_SYSTEM = """You curate the playbook a memory extractor follows: memory types (each a section of \
bullets: what the type is, when it applies, how to extract it), general guidelines, and others. Improve it \
from the latest reflection on one extraction. The reflection used the downstream outcome, which the \
extractor will never see, so write guidance that holds for future conversations; never tune it to one \
sample. Prefer few, high-impact edits over large rewrites. Keep the playbook within its token budget.
Operations (section = a section's slug):
{"type": "ADD_MEMORY_TYPE", "name": "Procedural Memory", "section": "pro", "content": "<definition>", \
"guidelines": ["...", "..."]}
{"type": "DELETE_MEMORY_TYPE", "section": "exp"}
{"type": "RENAME_MEMORY_TYPE", "section": "fac", "name": "..."}
{"type": "ADD_BULLET", "section": "fac", "content": "..."} (section "gen" for a general guideline)
{"type": "UPDATE_BULLET", "bullet_id": "fac-00003", "content": "..."}
{"type": "DELETE_BULLET", "bullet_id": "gen-00002"}
Reply with JSON only: {"reasoning": "...", "operations": [...]} (an empty list when nothing should change)."""


def cited_bullets(rollout: Rollout) -> list[str]:
    """The bullet ids the extractor reported using (recorded by `clue.memory.extract` as a note)."""
    for note in rollout.notes:
        if note.startswith(CITED_NOTE):
            return [b.strip() for b in note[len(CITED_NOTE):].split(",") if b.strip()]
    return []


class AceState(BaseModel):
    """Everything a resumed run needs: where the pass stands and the playbook so far."""

    method: str = "ace"
    status: Literal["running", "done"] = "running"
    epoch: int = 0
    cursor: int = 0  # index of the next sample of this epoch
    order: list[str] = []  # pair keys in the seeded order
    playbook: Playbook
    last_reflection: str = ""
    stopped_by: str = ""
    samples_done: int = 0  # samples finished, over every epoch (each has its lineage entry)
    replies: ReplyCounts = Field(default_factory=ReplyCounts)  # optimizer replies per step, unusable ones counted
    left_out: int = 0  # samples skipped: their rollout kept failing for an infrastructure reason

    @model_validator(mode="before")
    @classmethod
    def _count_history(cls, data: Any) -> Any:
        """A state written before `samples_done` kept every sample's entry in `history`."""
        if isinstance(data, dict) and "history" in data and "samples_done" not in data:
            return {**data, "samples_done": len(data["history"] or [])}
        return data


@dataclass
class _AceRun:
    seed: ExtractionPrompt
    harness: Harness
    settings: EvolveSettings
    recorder: RunRecorder
    state: AceState
    lineage: list[LineageEntry]
    leaks: LeakChecker | None
    query: QueryFn

    def prompt(self, reflection: str = "") -> ExtractionPrompt:
        text = self.state.playbook.render(reflection)
        return ExtractionPrompt(f"ace-{prompt_hash(text)[:8]}", text)

    def replies(self) -> Replies:
        return self.settings.replies(self.state.replies)

    def policy(self) -> FeedbackPolicy:
        chars = self.settings.ace_reflector_chars
        return FeedbackPolicy(show_gold=self.settings.feedback_gold, source_chars=chars, query_chars=chars,
                              output_chars=chars)

    def save(self) -> None:
        self.recorder.record_lineage(Lineage(method="ace", seed_hash=self.seed.hash, best_hash=self.prompt().hash,
                                             entries=self.lineage))
        self.recorder.write_best_prompt(self.prompt().text)
        self.recorder.save_private_state(self.state)


def sample_rollouts(settings: EvolveSettings) -> int:
    """A sample's worst case: the first attempt, every reflect-and-retry round, the post-curation run."""
    return 1 + settings.ace_reflect_rounds + (1 if settings.ace_track_post_curate else 0)


def _token_budget_spent(meter: BudgetMeter) -> bool:
    return meter.budget.max_tokens is not None and meter.tokens_spent >= meter.budget.max_tokens


class _Stop(Exception):
    """The budget cannot pay for the next step of this sample."""


class AceOptimizer:
    name = "ace"

    def __init__(self, *, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or Reporter()

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        recorder = harness.recorder_for(run_dir)
        by_key = {p.key: p for p in train_pairs}
        state, lineage = self._load(recorder) if resume else (None, [])
        if state is None:
            order = sorted(by_key)
            random.Random(settings.seed).shuffle(order)
            state, lineage = AceState(order=order, playbook=seed_playbook(seed_prompt.text)), []
        leaks = LeakChecker.for_pairs(train_pairs, settings.leak_ngram) if settings.guardrails else None
        run = _AceRun(seed_prompt, harness, settings, recorder, state, lineage, leaks,
                      task_query(harness.runner.tasks))
        pairs = [by_key[k] for k in state.order if k in by_key]  # a key gone from the pool is skipped
        stopped_by = (state.stopped_by or "finished") if state.status == "done" else "finished"
        while state.status == "running":
            if state.cursor >= len(pairs):
                state.epoch, state.cursor = state.epoch + 1, 0
                if state.epoch >= settings.ace_epochs:
                    state.status = "done"
                    break
            try:  # a sample starts only when the budget can finish it
                started = harness.meter.start_unit(f"sample {state.samples_done + 1}", sample_rollouts(settings))
            except BudgetExhausted as exc:
                stopped_by = self._stop(f"budget: {exc}")
                break
            self.reporter.step(self.name, state.epoch + 1, f"sample {state.cursor + 1}/{len(pairs)}")
            saved = state.playbook.model_copy(deep=True)
            try:
                await self._sample(run, pairs[state.cursor], len(pairs))
            except (_Stop, BudgetExhausted) as exc:
                state.playbook = saved  # the unfinished sample is redone whole on resume
                stopped_by = self._stop(f"budget: {exc}")
                self._record(run, complete=False)
                break
            harness.meter.finish_unit(started)
            run.save()
        state.stopped_by = stopped_by
        run.save()
        state.replies.check_candidates(self.name)
        return OptimizationResult(best=run.prompt(), stopped_by=stopped_by, replies=state.replies)

    def _stop(self, reason: str) -> str:
        self.reporter.stopped(self.name, reason)
        return reason

    @staticmethod
    def _record(run: _AceRun, *, complete: bool = True) -> None:
        """The sample's point in the run log; one a token or call cap cut short is marked incomplete (and is
        replaced when a resumed run redoes it)."""
        meter, prompt = run.harness.meter, run.prompt()
        run.recorder.record_progress(RoundProgress(
            round=run.state.samples_done + (0 if complete else 1), rollouts_spent=meter.rollouts_spent,
            tokens_spent=meter.tokens_spent, best_hash=prompt.hash, best_name=prompt.name, complete=complete,
            unusable_replies=dict(run.state.replies.unusable)))

    async def _generate(self, run: _AceRun, pair: Pair, reflection: str = "") -> tuple[ExtractionPrompt, Rollout]:
        if _token_budget_spent(run.harness.meter):
            raise _Stop("token budget spent")
        prompt = run.prompt(reflection)
        return prompt, (await run.harness.evaluate(prompt, [pair]))[0]

    async def _sample(self, run: _AceRun, pair: Pair, total: int) -> None:
        """One training sample; state changes only once it is complete (a stop leaves it to be redone)."""
        state, settings = run.state, run.settings
        before = run.prompt()
        _, rollout = await self._generate(run, pair)
        if not rollout.scored:  # still an infrastructure failure after the harness's retries: not evidence
            state.left_out += 1
            state.cursor += 1
            return
        first_success = succeeded(rollout)
        reflections: list[Reflection] = []
        usable: list[bool] = []  # per reflection: whether the reflector's reply was usable
        operations: list[str] = []
        attempts = 0

        async def reflect() -> None:
            reflection, ok = await self._reflect(run, pair, rollout)
            reflections.append(reflection)
            usable.append(ok)

        if first_success:
            await reflect()
            operations += state.playbook.tag((t.id, t.tag) for t in reflections[-1].bullet_tags)
        else:
            for _ in range(settings.ace_reflect_rounds):
                await reflect()
                operations += state.playbook.tag((t.id, t.tag) for t in reflections[-1].bullet_tags)
                _, rollout = await self._generate(run, pair, reflections[-1].for_extractor())
                attempts += 1
                if succeeded(rollout):
                    break
        reflection_text = reflections[-1].model_dump_json() if reflections else ""
        step = state.cursor + 1
        if step % max(settings.ace_curator_every, 1) == 0 and reflection_text:
            if _token_budget_spent(run.harness.meter):
                raise _Stop("token budget spent before the curator")
            curation = await self._curate(run, reflection_text, step, total)
            state.replies.candidate(usable=curation is not None and any(usable))
            operations += self._screen(run, curation or Curation(operations=[]))
            operations += state.playbook.fit(settings.ace_token_budget)
        post: bool | None = None
        if settings.ace_track_post_curate:
            tracked = (await self._generate(run, pair))[1]
            post = tracked.succeeded if tracked.scored else None
        after = run.prompt()
        origin = Origin(epoch=state.epoch, step=state.cursor, sample=pair.key)
        details = AceDetails(pre_train_success=first_success, retries=attempts, retry_success=succeeded(rollout),
                             post_train_success=post, operations=operations, reflection=reflection_text,
                             bullets=len(state.playbook.bullets), playbook_tokens=state.playbook.tokens())
        run.lineage.append(LineageEntry(
            id=f"{after.hash}@{origin.label()}", hash=after.hash, name=after.name, parents=[before.hash],
            origin=origin, status="unchanged" if after.hash == before.hash else "accepted",
            diff=prompt_diff(before.text, after.text, before.hash, after.hash), details=details))
        state.samples_done += 1
        state.last_reflection = reflection_text
        state.cursor += 1
        self._record(run)

    def _screen(self, run: _AceRun, curation: Curation) -> list[str]:
        """Apply the curator's operations; with guardrails on, one whose text copies training data is skipped."""
        notes: list[str] = []
        kept: list[CuratorOp] = []
        for op in curation.operations:
            text = " ".join([op.content, *op.guidelines]).strip()
            leaked = run.leaks.find(text, run.seed.text) if run.leaks is not None and text else None
            if leaked:
                notes.append(f"SKIP {op.type}: leaks training text {leaked[:60]!r}")
            else:
                kept.append(op)
        return notes + run.state.playbook.apply(kept)

    async def _reflect(self, run: _AceRun, pair: Pair, rollout: Rollout) -> tuple[Reflection, bool]:
        """The reflection, and whether the reply was usable (if not, a placeholder saying so)."""
        if _token_budget_spent(run.harness.meter):
            raise _Stop("token budget spent before reflection")
        used = run.state.playbook.lines_for(cited_bullets(rollout))
        view = render_rollout(pair, rollout, run.query(pair), run.policy())
        messages: list[Message] = [
            {"role": "system", "content": REFLECTOR_SYSTEM},
            {"role": "user", "content": f"{view}\n\nPlaybook bullets the extractor used:\n{used}"}]
        result = await run.replies().ask(run.harness.llm, "reflector", messages, Reflection, cuttable_index=1)
        if result.value is not None:
            return result.value, True
        return Reflection(diagnosis=f"(no usable reflection: {result.error})", key_insight=""), False

    async def _curate(self, run: _AceRun, reflection: str, step: int, total: int) -> Curation | None:
        """The curator's operations; None when its reply was not usable."""
        book = run.state.playbook
        messages: list[Message] = [
            {"role": "system", "content": CURATOR_SYSTEM},
            {"role": "user", "content": f"Token budget: {run.settings.ace_token_budget} tokens. Sample {step} of "
                                        f"{total}.\nPlaybook stats: {book.stats()}\n\nLatest reflection:\n"
                                        f"{reflection}\n\nCurrent playbook:\n{book.listing()}"}]
        result = await run.replies().ask(run.harness.llm, "curator", messages, Curation, cuttable_index=1)
        return result.value

    @staticmethod
    def _load(recorder: RunRecorder) -> tuple[AceState | None, list[LineageEntry]]:
        raw = recorder.load_private_state()
        if raw is None:
            return None, []
        try:
            state = AceState.model_validate_json(raw)
        except ValidationError:
            raise BadInputError(f"{recorder.private_state_path}: not a run of this ACE (per-sample playbook); "
                                "start a new run directory") from None
        # A crash between writing lineage.json and state.json leaves an entry for a sample that will be redone.
        lineage = recorder.load_lineage("ace")
        done = [e for e in (lineage.entries if lineage is not None else [])
                if (e.origin.epoch or 0, e.origin.step or 0) < (state.epoch, state.cursor)]
        return state, done

