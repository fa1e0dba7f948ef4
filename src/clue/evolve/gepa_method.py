"""The GEPA baseline through the real `gepa` library (0.1.4).

GEPA drives the search (Pareto candidate selection, reflective mutation on minibatches of 5, acceptance,
full validation of accepted children). Everything it measures goes through OUR harness, so every rollout
lands in the shared store and is never computed twice; its reflection LM is our `optimizer` role.

gepa is synchronous and our harness is async: `gepa.optimize` runs in a worker thread, and the adapter
and the reflection LM submit coroutines back to the caller's event loop and wait for them.

Budget: the seed's validation starts only when it fits; then gepa's stop callback (`gepa_bridge.MeterStopper`)
lets an iteration start only when its worst case fits the budget left, so no iteration is cut short by the
rollout budget. Without a rollout budget, `rounds` CluE rounds' worth of rollouts caps gepa's metric calls.
A `BudgetExhausted` mid-iteration (a token or call cap) aborts gepa with a private exception, after which
the best candidate seen on the validation half is returned. Resume: gepa's own `run_dir` (`<run_dir>/gepa`) holds
its pickled state, reloaded on resume; replayed evaluations are served by the rollout store.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from gepa.api import optimize as gepa_optimize
from gepa.core.adapter import EvaluationBatch

from clue.bench.data.records import Pair
from clue.bench.run.files import GEPA_DIR
from clue.bench.run.rollouts import Rollout
from clue.errors import UpstreamError
from clue.evolve.baseline_records import LineageRecorder
from clue.evolve.budget import BudgetExhausted, BudgetMeter
from clue.evolve.feedback import (
    FeedbackPolicy,
    QueryFn,
    cut,
    render_rollout,
    source_text,
    succeeded,
    task_query,
)
from clue.evolve.gepa_bridge import GepaStop, MeterStopper, OptimizerRoleLM, _LoopBridge
from clue.evolve.guardrails import LeakChecker, check_candidate
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult
from clue.evolve.watch import Reporter
from clue.memory.prompts import ExtractionPrompt, prompt_hash

if TYPE_CHECKING:
    from gepa.core.callbacks import GEPACallback

COMPONENT = "extraction_prompt"

# Our own wording; gepa fills <curr_param> (the prompt) and <side_info> (the reflective dataset).
REFLECTION_TEMPLATE = """You improve the system prompt of a memory extractor. The extractor reads a past \
conversation and writes a short numbered list of memories; later a solver gets those memories while it \
works on a related task, and the memories are judged only by whether they helped.

Current extractor prompt:
```
<curr_param>
```

Examples, each with a source excerpt, the memory written, the downstream outcome and feedback:
<side_info>

Write a better extractor prompt. Keep what worked; fix what the feedback says was missing or misleading; \
keep the output a numbered list of at most 5 memories; give general guidance, never facts from these \
examples. Reply with the complete new prompt inside ``` fences."""

@dataclass
class RolloutTrace:
    """What the reflective dataset is built from: the pair and its rollout (or why there is none)."""

    pair: Pair
    rollout: Rollout | None
    problem: str | None = None


SUCCESS_FEEDBACK = """The memory was given to the solver for the target query above, and the target was \
completed. Do not rewrite this one memory; work out what kinds of memory help in situations like this and \
how the extraction guidelines should ask for them. Did the memory help the target, and how? What made it \
useful (level of abstraction, specificity, kind of information, transferability)? What general lesson \
follows for the guidelines?"""

FAILURE_FEEDBACK = """The memory was given to the solver for the target query above, and the target was not \
completed. Do not fix the memory for this one example; find what the extraction guidelines failed to \
capture. What memory from this source would have served the target better? What was missing or \
ineffective (key information missing, too specific, too vague, not transferable)? How should the \
guidelines change?"""


def feedback_for(rollout: Rollout) -> str:
    return SUCCESS_FEEDBACK if succeeded(rollout) else FAILURE_FEEDBACK


class CandidateGuard:
    """The shared guardrails (truncated, too long, leaking training text) on every prompt gepa proposes.
    A rejected prompt scores zero without spending rollouts, so gepa never accepts it."""

    def __init__(self, seed_text: str, max_chars: int, leaks: LeakChecker, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.seed_text = seed_text
        self.max_chars = max_chars
        self.leaks = leaks
        self.truncated_replies: list[str] = []
        self.verdicts: dict[str, str | None] = {prompt_hash(seed_text): None}

    def reason(self, text: str) -> str | None:
        key = prompt_hash(text)
        if key not in self.verdicts:
            truncated = any(text in reply for reply in self.truncated_replies)
            self.verdicts[key] = "empty prompt" if not text.strip() else None if not self.enabled else check_candidate(
                text, base_text=self.seed_text, truncated=truncated, max_chars=self.max_chars, leaks=self.leaks)
        return self.verdicts[key]


class HarnessAdapter:
    """gepa's adapter over our harness: candidate {"extraction_prompt": text} -> rollouts -> rewards."""

    propose_new_texts: Any = None  # gepa's own reflective proposer writes the new texts

    def __init__(self, harness: Harness, bridge: _LoopBridge, stopper: MeterStopper,
                 seed_prompt: ExtractionPrompt, guard: CandidateGuard, policy: FeedbackPolicy,
                 query: QueryFn) -> None:
        self.policy = policy
        self.query = query
        self.harness = harness
        self.bridge = bridge
        self.stopper = stopper
        self.seed_prompt = seed_prompt
        self.guard = guard

    def prompt_for(self, text: str) -> ExtractionPrompt:
        if text == self.seed_prompt.text:
            return self.seed_prompt
        return ExtractionPrompt(f"gepa-{prompt_hash(text)[:8]}", text)

    def evaluate(self, batch: list[Pair], candidate: dict[str, str],
                 capture_traces: bool = False) -> EvaluationBatch[RolloutTrace, str]:
        if self.stopper.reason is not None:
            raise GepaStop(self.stopper.reason)
        text = candidate[COMPONENT]
        problem = self.guard.reason(text)
        if problem:
            traces = [RolloutTrace(pair, None, problem) for pair in batch]
            return EvaluationBatch(outputs=["" for _ in batch], scores=[0.0 for _ in batch],
                                   trajectories=traces if capture_traces else None)
        try:
            rollouts = self.bridge.run(self.harness.evaluate(self.prompt_for(text), list(batch)))
        except BudgetExhausted as exc:
            self.stopper.request(str(exc))
            raise GepaStop(str(exc)) from exc
        traces = [RolloutTrace(pair, rollout) for pair, rollout in zip(batch, rollouts, strict=True)]
        return EvaluationBatch(outputs=[r.rollout_id for r in rollouts], scores=gepa_scores(text, rollouts),
                               trajectories=traces if capture_traces else None)

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: EvaluationBatch[RolloutTrace, str],
        components_to_update: list[str],
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        records: list[dict[str, Any]] = []
        for trace in eval_batch.trajectories or []:
            if trace.rollout is None:
                records.append({"Example": f"Source conversation:\n{cut(source_text(trace.pair), 500)}",
                                "Feedback": f"The prompt was rejected before running ({trace.problem})."})
                continue
            view = render_rollout(trace.pair, trace.rollout, self.query(trace.pair), self.policy)
            records.append({"Example": view, "Feedback": feedback_for(trace.rollout)})
        return {name: records for name in components_to_update}


class _FileLogger:
    """gepa's log lines go to a file; unlike gepa's own Logger it never swaps sys.stdout."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log(self, message: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{message}\n")


def split_pool(pairs: Sequence[Pair], seed: int, val_fraction: float = 0.5) -> tuple[list[Pair], list[Pair]]:
    """(trainset for reflection, valset for the Pareto front), stratified per dataset as in the reference:
    each dataset's pairs are shuffled (seeded) and `val_fraction` of them (rounded down) is held out."""
    by_dataset: dict[str, list[Pair]] = {}
    for pair in sorted(pairs, key=lambda p: p.key):
        by_dataset.setdefault(pair.dataset, []).append(pair)
    rng = random.Random(seed)
    train: list[Pair] = []
    val: list[Pair] = []
    for name in sorted(by_dataset):
        bucket = by_dataset[name]
        rng.shuffle(bucket)
        held = int(val_fraction * len(bucket))
        train.extend(bucket[:len(bucket) - held])
        val.extend(bucket[len(bucket) - held:])
    if not val or not train:  # too few pairs to hold any out: validate on what there is
        everything = train + val
        return everything, list(everything)
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def rollouts_per_round(settings: EvolveSettings) -> int:
    """Extract+solve rollouts of one CluE round in the reference design (265 at the defaults)."""
    return settings.batch * (2 + settings.candidates) + settings.top * (settings.resample + settings.batch)


def _metric_call_cap(meter: BudgetMeter, settings: EvolveSettings) -> int | None:
    """With a rollout budget our stop callback ends the run (no metric-call cap: gepa counts reused evaluations
    too and would stop early); without one, the rollouts of `rounds` CluE rounds bound gepa's metric calls."""
    if meter.budget.max_rollouts is not None:
        return None
    return settings.rounds * rollouts_per_round(settings)


def gepa_scores(text: str, rollouts: Sequence[Rollout]) -> list[float]:
    """One score per example, as gepa needs. A rollout that still failed for an infrastructure reason after the
    harness's retries is left out of the mean: it gets the mean of the scored ones, which leaves every average
    gepa takes unchanged. With none scored there is nothing to compare on, and the run stops."""
    scored = [r.reward for r in rollouts if r.scored]
    if not scored:
        first = next((r.error for r in rollouts if r.error), "unknown cause")
        raise UpstreamError(f"gepa: all {len(rollouts)} rollouts of prompt {prompt_hash(text)[:8]} failed for "
                            f"infrastructure reasons ({first})")
    mean = sum(scored) / len(scored)
    return [r.reward if r.scored else mean for r in rollouts]


class GepaOptimizer:
    name = "gepa"

    def __init__(self, *, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or Reporter()

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        gepa_dir = run_dir / GEPA_DIR  # the gepa library's own resume state, written by gepa
        if not resume and gepa_dir.exists():
            shutil.rmtree(gepa_dir)
        gepa_dir.mkdir(parents=True, exist_ok=True)
        trainset, valset = split_pool(train_pairs, settings.seed, settings.gepa_val_fraction)
        bridge = _LoopBridge(asyncio.get_running_loop())
        # An iteration's worst case: parent and child on a minibatch, then the child on the validation half.
        stopper = MeterStopper(harness.meter, 2 * min(settings.gepa_minibatch, len(trainset)) + len(valset))
        guard = CandidateGuard(seed_prompt.text, settings.max_prompt_chars,
                               LeakChecker.for_pairs(train_pairs, settings.leak_ngram), enabled=settings.guardrails)
        chars = settings.gepa_source_chars
        policy = FeedbackPolicy(show_gold=settings.feedback_gold, source_chars=chars, query_chars=chars,
                                output_chars=chars)
        adapter = HarnessAdapter(harness, bridge, stopper, seed_prompt, guard, policy,
                                 task_query(harness.runner.tasks))
        recorder = LineageRecorder(harness.recorder_for(run_dir), seed_prompt, COMPONENT, resume=resume,
                                   reporter=self.reporter, guardrail_verdicts=guard.verdicts)
        recorder.save_state(status="running", meter=harness.meter, trainset=[p.key for p in trainset],
                            valset=[p.key for p in valset])
        max_calls = _metric_call_cap(harness.meter, settings)
        stopped_by, best_text = "finished", None
        try:
            if not (gepa_dir / "gepa_state.bin").exists():  # gepa's first unit: the seed on the validation half
                stopper.began(harness.meter.start_unit("the seed's validation",
                                                       harness.missing(seed_prompt, valset)))
            reflection = OptimizerRoleLM(harness.llm, bridge, stopper, guard.truncated_replies,
                                         settings.replies(recorder.replies))
            result = await asyncio.to_thread(self._run_gepa, seed_prompt, trainset, valset, adapter, reflection,
                                             settings, max_calls, stopper, recorder, gepa_dir)
            best_text = result.candidates[result.best_idx][COMPONENT]
            stopped_by = stopper.reason or "finished"
        except BudgetExhausted as exc:
            stopped_by = f"budget: {exc}"
        except GepaStop as exc:
            stopped_by = stopper.reason or f"budget: {exc}"
        except asyncio.CancelledError:
            bridge.cancelled = True
            raise
        if stopped_by != "finished":
            self.reporter.stopped(self.name, stopped_by)
        best = adapter.prompt_for(best_text) if best_text is not None else recorder.best_prompt()
        recorder.best_text = best.text
        recorder.save_state(status="done", meter=harness.meter, stopped_by=stopped_by,
                            gepa_metric_call_cap=max_calls)
        recorder.replies.check_candidates(self.name)
        return OptimizationResult(best=best, stopped_by=stopped_by,
                                  replies=recorder.replies)

    @staticmethod
    def _run_gepa(seed_prompt: ExtractionPrompt, trainset: list[Pair], valset: list[Pair], adapter: HarnessAdapter,
                  reflection: OptimizerRoleLM, settings: EvolveSettings, max_calls: int | None,
                  stopper: MeterStopper, recorder: LineageRecorder, gepa_dir: Path) -> Any:
        """gepa itself, in a worker thread."""
        return gepa_optimize(
            seed_candidate={COMPONENT: seed_prompt.text}, trainset=trainset, valset=valset,
            adapter=adapter, reflection_lm=reflection,
            reflection_prompt_template=REFLECTION_TEMPLATE if settings.gepa_template == "clue" else None,
            reflection_minibatch_size=settings.gepa_minibatch,
            candidate_selection_strategy="pareto", max_metric_calls=max_calls, stop_callbacks=[stopper],
            run_dir=str(gepa_dir), logger=_FileLogger(gepa_dir / "run_log.txt"),
            callbacks=[cast("GEPACallback", recorder)],  # gepa calls only the methods it finds
            track_best_outputs=False, display_progress_bar=False, raise_on_exception=True,
            seed=settings.seed)
