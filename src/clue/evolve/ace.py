"""The ACE baseline: generator / reflector / curator over a bullet playbook, one epoch over the pool.

Each step takes a minibatch of training pairs in a seeded order:
1. generator: our harness runs the current prompt (seed + rendered playbook) on the minibatch;
2. reflector (optimizer role, structured): reads each rollout's source excerpt, memory and outcome, tags
   playbook bullets that helped or hurt, and states a few general insights;
3. curator (optimizer role, structured): turns the insights into ADD / UPDATE / REMOVE operations.
Tags become counter updates; all operations are applied deterministically, then harmful bullets are pruned
and the playbook is capped. After every step `state.json` (cursor, playbook), `lineage.json` and
`best_prompt.txt` are rewritten, so a resumed run continues at the first unfinished step and its
generator pass is served from the rollout store.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from clue.bench.records import Pair
from clue.bench.rollouts import Rollout
from clue.evolve.ace_playbook import DeltaOperation, Playbook, counter_operations
from clue.evolve.baseline_records import prompt_diff, read_json, write_json_atomic, write_text_atomic
from clue.evolve.budget import BudgetExhausted, BudgetMeter
from clue.evolve.guardrails import LeakChecker
from clue.evolve.harness import Harness, score_rollouts
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.reporting import Reporter
from clue.llm.client import LLM
from clue.llm.types import Message
from clue.memory.prompts import ExtractionPrompt, prompt_hash

EXCERPT_CHARS = 600
MEMORY_CHARS = 400
ANSWER_CHARS = 200


def _at_most(limit: int) -> BeforeValidator:
    """Small models overshoot array bounds; keep the first `limit` items instead of refusing the reply."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, list) else v)


def _clip(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else v)


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class BulletTag(BaseModel):
    bullet_id: str
    verdict: Literal["helpful", "harmful", "neutral"]


class Reflection(BaseModel):
    bullet_tags: Annotated[list[BulletTag], _at_most(12), Field(max_length=12)] = []
    insights: Annotated[list[Annotated[str, _clip(400), Field(max_length=400)]], _at_most(4),
                        Field(max_length=4)] = []


class CuratorOperation(BaseModel):
    op: Annotated[Literal["ADD", "UPDATE", "REMOVE"], BeforeValidator(_upper)]
    bullet_id: str = ""
    text: Annotated[str, _clip(400), Field(max_length=400)] = ""


class Curation(BaseModel):
    operations: Annotated[list[CuratorOperation], _at_most(4), Field(max_length=4)] = []


# Our own wording, kept short for a small local model.
REFLECTOR_SYSTEM = """You review a memory extractor. It read each source conversation below and wrote \
memories; a solver then used them on a related task. The extractor follows the playbook rules shown.
Return JSON with:
- "bullet_tags": rules that clearly helped or hurt here, as {"bullet_id": "b1", "verdict": "helpful"} or \
"harmful". Leave out rules that did not matter.
- "insights": up to 4 short, general lessons on what to keep or leave out of memories, learned from the \
successes and failures. No facts about these particular examples."""

CURATOR_SYSTEM = """You keep a playbook of short rules for a memory extractor. Turn the new lessons into \
at most 4 edits:
{"op": "ADD", "text": "..."} for a lesson no rule covers yet;
{"op": "UPDATE", "bullet_id": "b2", "text": "..."} to sharpen a rule;
{"op": "REMOVE", "bullet_id": "b3"} for a rule that is wrong or redundant.
Each rule is one imperative sentence under 30 words. Return JSON: {"operations": [...]}, with an empty \
list when the playbook already covers the lessons."""


def _excerpt(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} [...] {text[-half:]}"


def describe_rollouts(pairs: Sequence[Pair], rollouts: Sequence[Rollout]) -> str:
    blocks: list[str] = []
    for number, (pair, rollout) in enumerate(zip(pairs, rollouts, strict=True), start=1):
        source = "\n".join(f"{t.role}: {t.content}" for t in pair.source_messages)
        outcome = "success" if rollout.reward >= 1.0 else "partial" if rollout.reward > 0 else "failure"
        note = rollout.error or rollout.score_detail
        blocks.append(
            f"### Example {number}: {outcome} (reward {rollout.reward:.2f})\n"
            f"Source: {_excerpt(source, EXCERPT_CHARS)}\n"
            f"Memory: {_excerpt(rollout.memory, MEMORY_CHARS) or '(empty)'}\n"
            f"Solver answer: {_excerpt(rollout.solver_output, ANSWER_CHARS)}"
            + (f"\nScorer note: {note[:160]}" if note else ""))
    return "\n\n".join(blocks)


def _token_budget_spent(meter: BudgetMeter) -> bool:
    return meter.budget.max_tokens is not None and meter.tokens_spent >= meter.budget.max_tokens


class AceState(BaseModel):
    """Everything a resumed run needs: where the epoch stands and the playbook so far."""

    method: str = "ace"
    status: Literal["running", "done"] = "running"
    epoch: int = 0
    cursor: int = 0  # index of the next minibatch of this epoch
    order: list[str] = []  # pair keys in the seeded epoch order
    playbook: Playbook = Playbook()
    stopped_by: str = ""
    history: list[dict[str, Any]] = []


@dataclass
class _AceRun:
    """One run's fixed context plus its evolving state."""

    seed: ExtractionPrompt
    harness: Harness
    settings: EvolveSettings
    run_dir: Path
    state: AceState
    lineage: list[dict[str, Any]]
    leaks: LeakChecker

    def prompt(self) -> ExtractionPrompt:
        text = self.state.playbook.render(self.seed.text)
        return self.seed if text == self.seed.text else ExtractionPrompt(f"ace-{prompt_hash(text)[:8]}", text)

    def save(self) -> None:
        write_json_atomic(self.run_dir / "lineage.json", self.lineage)
        write_text_atomic(self.run_dir / "best_prompt.txt", self.prompt().text)
        # "budget" is what a resumed run (clue.evolve.run) reads back as the tokens already spent.
        write_json_atomic(self.run_dir / "state.json",
                          {**self.state.model_dump(mode="json"), "budget": self.harness.meter.summary()})


class AceOptimizer:
    name = "ace"

    def __init__(self, *, minibatch_size: int = 5, max_bullets: int = 20, epochs: int = 1,
                 reporter: Reporter | None = None) -> None:
        self.minibatch_size = minibatch_size
        self.max_bullets = max_bullets
        self.epochs = epochs
        self.reporter = reporter or Reporter()

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        run_dir.mkdir(parents=True, exist_ok=True)
        by_key = {p.key: p for p in train_pairs}
        state, lineage = self._load(run_dir) if resume else (None, [])
        if state is None:
            order = sorted(by_key)
            random.Random(settings.seed).shuffle(order)
            state, lineage = AceState(order=order), []
        run = _AceRun(seed_prompt, harness, settings, run_dir, state, lineage,
                      LeakChecker.for_pairs(train_pairs, settings.leak_ngram))
        pairs = [by_key[k] for k in state.order if k in by_key]  # a key gone from the pool is skipped
        steps = [pairs[i:i + self.minibatch_size] for i in range(0, len(pairs), self.minibatch_size)]
        stopped_by = (state.stopped_by or "finished") if state.status == "done" else "finished"
        while state.status == "running":
            if state.cursor >= len(steps):
                state.epoch, state.cursor = state.epoch + 1, 0
                if state.epoch >= self.epochs:
                    state.status = "done"
                    break
            self.reporter.step(self.name, state.epoch + 1, f"minibatch {state.cursor + 1}/{len(steps)}")
            reason = await self._step(run, steps[state.cursor])
            if reason:
                stopped_by = f"budget: {reason}"
                self.reporter.stopped(self.name, stopped_by)
                break
            run.save()
        state.stopped_by = stopped_by
        run.save()
        return OptimizationResult(best=run.prompt(), history=list(state.history), stopped_by=stopped_by)

    # -- one generator / reflector / curator step ---------------------------------------------------------
    async def _step(self, run: _AceRun, batch: list[Pair]) -> str:
        """Run one minibatch; returns a reason when the budget stops the run (state left unchanged)."""
        state, meter, llm = run.state, run.harness.meter, run.harness.llm
        prompt = run.prompt()
        if _token_budget_spent(meter):
            return "token budget spent before the generator step"
        try:
            rollouts = await run.harness.evaluate(prompt, batch)
        except BudgetExhausted as exc:
            return str(exc)
        if _token_budget_spent(meter):
            return "token budget spent before reflection"
        reflection = await self._reflect(llm, state.playbook, batch, rollouts)
        curation = Curation()
        if reflection.insights and not _token_budget_spent(meter):
            curation = await self._curate(llm, state.playbook, reflection.insights)
        edits, skipped = self._screen(run, curation)
        tags = [(t.bullet_id, t.verdict) for t in reflection.bullet_tags]
        applied = skipped + state.playbook.apply(counter_operations(tags) + edits)
        applied += state.playbook.prune(self.max_bullets)
        # Guardrail on prompt length: shed the weakest bullets until the rendered prompt fits.
        while state.playbook.bullets and len(run.prompt().text) > run.settings.max_prompt_chars:
            applied += state.playbook.prune(len(state.playbook.bullets) - 1)
        child = run.prompt()
        step = {"epoch": state.epoch, "step": state.cursor, "hash": child.hash, "parent": prompt.hash,
                "generator_accuracy": score_rollouts(prompt, rollouts).accuracy, "pairs": [p.key for p in batch],
                "insights": list(reflection.insights), "operations": applied,
                "bullets": len(state.playbook.bullets)}
        state.history.append({k: v for k, v in step.items() if k not in {"pairs", "insights"}})
        run.lineage.append({**step, "diff": prompt_diff(prompt.text, child.text, prompt.hash, child.hash),
                            "prompt": child.text})
        state.cursor += 1
        return ""

    @staticmethod
    def _screen(run: _AceRun, curation: Curation) -> tuple[list[DeltaOperation], list[str]]:
        """Curator edits whose text copies training data (the shared leak guardrail) are skipped."""
        kept: list[DeltaOperation] = []
        skipped: list[str] = []
        for op in curation.operations:
            leaked = run.leaks.find(op.text, run.seed.text) if op.text.strip() else None
            if leaked:
                target = f" {op.bullet_id}" if op.bullet_id else ""
                skipped.append(f"SKIP {op.op}{target}: leaks training text {leaked[:60]!r}")
            else:
                kept.append(DeltaOperation(op.op, op.bullet_id, op.text))
        return kept, skipped

    async def _reflect(self, llm: LLM, playbook: Playbook, batch: list[Pair],
                       rollouts: list[Rollout]) -> Reflection:
        messages: list[Message] = [
            {"role": "system", "content": REFLECTOR_SYSTEM},
            {"role": "user",
             "content": f"Playbook:\n{playbook.listing()}\n\n{describe_rollouts(batch, rollouts)}"},
        ]
        result = await llm.structured("optimizer", messages, Reflection, cuttable_index=1)
        return result.value or Reflection()

    async def _curate(self, llm: LLM, playbook: Playbook, insights: list[str]) -> Curation:
        lessons = "\n".join(f"- {i.strip()}" for i in insights if i.strip())
        messages: list[Message] = [
            {"role": "system", "content": CURATOR_SYSTEM},
            {"role": "user", "content": f"Playbook:\n{playbook.listing()}\n\nNew lessons:\n{lessons}"},
        ]
        result = await llm.structured("optimizer", messages, Curation)
        return result.value or Curation()

    # -- persistence ---------------------------------------------------------------------------------------
    @staticmethod
    def _load(run_dir: Path) -> tuple[AceState | None, list[dict[str, Any]]]:
        raw = read_json(run_dir / "state.json")
        if raw is None:
            return None, []
        state = AceState.model_validate(raw)
        # A crash between writing lineage.json and state.json leaves an entry for a step that will be redone.
        lineage = [e for e in read_json(run_dir / "lineage.json") or []
                   if (e["epoch"], e["step"]) < (state.epoch, state.cursor)]
        return state, lineage
