"""Evaluate an extraction prompt on pairs. One rollout per (pair, repeat):
extract memory -> the dataset's solver solves the target with it -> the task scores the episode.

Everything that happens is kept as typed events in `Rollout.events` (every LLM call with the messages sent
and received, environment resets and steps, code runs, the score); the flat fields (`memory`,
`solver_output`, token counts) are views derived from those events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from clue.bench.data.records import Pair
from clue.bench.run.events import Event, LLMCallEvent, NoteEvent, ScoreEvent, compact_events
from clue.bench.run.rollouts import Rollout, RolloutStore, rollout_id
from clue.bench.scorers.tasks import JudgeFn, Task, score_episode
from clue.bench.solvers.base import Episode, SolveContext, Solver
from clue.bench.solvers.common import llm_event
from clue.errors import BadInputError, ClueError, RolloutBugError, TransientError, UpstreamError
from clue.llm.client import LLM
from clue.llm.scheduling import Backlog
from clue.llm.types import ContextOverflowError, Message, TransientLLMError
from clue.memory.extract import extract_memory
from clue.memory.prompts import ExtractionPrompt

TaskLookup = Callable[[str], Task]
SolverLookup = Callable[[str], Solver]
InfoLookup = Callable[[str], tuple[str, bool]]  # dataset -> (category, is_ood)
RolloutCallback = Callable[[Rollout, bool], None]  # (rollout, was_already_done)
VOTE_SEED_STRIDE = 1000  # judge vote v of repeat r uses seed offset r + 1000 v


class RunAborted(TransientError):
    """The endpoint stayed unreachable after retries; finished rollouts are kept for --resume."""


def _default_tasks(dataset: str) -> Task:
    from clue.bench.scorers.tasks import task_for

    return task_for(dataset)


def _default_info(dataset: str) -> tuple[str, bool]:
    from clue.bench.data.datasets import get_dataset

    spec = get_dataset(dataset)
    return spec.category, spec.ood


def _default_solvers() -> SolverLookup:
    from clue.bench.solvers.registry import SolverRegistry

    return SolverRegistry()


def derive_flat_fields(rollout: Rollout) -> None:
    """Fill the flat views from the events: tokens per role, the solver's last reply."""
    rollout.extract_prompt_tokens = rollout.extract_completion_tokens = 0
    rollout.solve_prompt_tokens = rollout.solve_completion_tokens = rollout.judge_tokens = 0
    for event in rollout.events:
        if not isinstance(event, LLMCallEvent):
            continue
        if event.role == "extractor":
            rollout.extract_prompt_tokens += event.prompt_tokens
            rollout.extract_completion_tokens += event.completion_tokens
        elif event.role == "judge":
            rollout.judge_tokens += event.prompt_tokens + event.completion_tokens
        else:
            rollout.solve_prompt_tokens += event.prompt_tokens
            rollout.solve_completion_tokens += event.completion_tokens


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'record'}: {first['msg']}"


def _fail_task(rollout: Rollout, events: list[Event], reason: str) -> None:
    """Score a task the solver could not finish as failed: reward 0, a score like any other."""
    rollout.reward = 0.0
    rollout.success = False
    rollout.score_detail = f"failed task: {reason}"
    rollout.notes.append(rollout.score_detail)
    events.append(ScoreEvent(reward=0.0, success=False, detail=rollout.score_detail))


@dataclass
class Runner:
    llm: LLM
    tasks: TaskLookup = _default_tasks
    info: InfoLookup = _default_info
    concurrency: int = 32
    on_rollout: RolloutCallback | None = None
    solvers: SolverLookup = field(default_factory=_default_solvers)

    async def run_one(self, prompt: ExtractionPrompt, pair: Pair, repeat: int) -> Rollout:
        category, ood = self.info(pair.dataset)
        rollout = Rollout(rollout_id=rollout_id(prompt.hash, pair.key, repeat), prompt_name=prompt.name,
                          prompt_hash=prompt.hash, dataset=pair.dataset, subset=pair.subset, category=category,
                          ood=ood, source_id=pair.source_id, target_id=pair.target_id, repeat=repeat)
        started = time.perf_counter()
        events: list[Event] = []
        try:
            await self._fill(rollout, prompt, pair, repeat, events)
        except TransientLLMError:
            raise
        except ValidationError as exc:  # a target record the dataset's models cannot read
            self._mark_failed(rollout, events, BadInputError(
                f"{pair.dataset} target {pair.target_id}: malformed record ({_first_error(exc)})"))
        except ClueError as exc:
            self._mark_failed(rollout, events, exc)
        except Exception as exc:
            raise RolloutBugError(f"rollout {rollout.rollout_id}: {type(exc).__name__}: "
                                  f"{(str(exc).splitlines() or [''])[0]} (a bug, not scored; the run stops)") from exc
        rollout.events = compact_events(events)
        derive_flat_fields(rollout)
        rollout.latency_s = time.perf_counter() - started
        return rollout

    @staticmethod
    def _mark_failed(rollout: Rollout, events: list[Event], exc: ClueError) -> None:
        """A rollout that could not finish. An endpoint, environment or sandbox failure (UpstreamError) says
        nothing about the prompt: not a score, retried by --resume. A bad record is an error scored 0."""
        rollout.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        rollout.reward = 0.0
        rollout.infra_failure = isinstance(exc, UpstreamError)
        events.append(NoteEvent(text=f"failed: {rollout.error}"))

    async def _fill(self, rollout: Rollout, prompt: ExtractionPrompt, pair: Pair, repeat: int,
                    events: list[Event]) -> None:
        task = self.tasks(pair.dataset)
        solver = self.solvers(pair.dataset)
        extraction = await extract_memory(self.llm, prompt, pair.source, repeat=repeat)
        if extraction.completion is not None:
            events.append(llm_event("extractor", extraction.messages, extraction.completion))
        rollout.memory = extraction.memory
        rollout.notes.extend(extraction.notes)
        recorded: list[Event] = []
        episode: Episode | None = None
        try:
            episode = await solver.solve(pair, extraction.memory,
                                         SolveContext(self.llm, repeat=repeat, record=recorded.append, task=task))
        except ContextOverflowError as exc:
            # The solver's conversation outgrew the model's window: a failed task (0), as in the reference,
            # not an infrastructure failure. The memory is part of that prompt, so this is on the prompt too.
            overflow: ContextOverflowError | None = exc
        else:
            overflow = None
        finally:
            # A solver may fill Episode.events, report through ctx.record, or both; a failed one only reports.
            events.extend(episode.events if episode is not None and episode.events else recorded)
        if overflow is not None:
            _fail_task(rollout, events, f"solver context overflow: {str(overflow).splitlines()[0]}")
            return
        assert episode is not None  # the solver returned (it raised otherwise)
        rollout.solver_output = episode.final_text
        for event in episode.events or recorded:
            if isinstance(event, LLMCallEvent):
                rollout.notes.extend(event.notes)
        score = await score_episode(task, pair, episode, self._judge(events, repeat))
        rollout.reward = score.reward
        rollout.score_detail = score.detail
        rollout.unreadable_verdicts = score.unreadable_verdicts
        if episode.outcome is not None:
            rollout.success = episode.outcome.success
        events.append(ScoreEvent(reward=score.reward, success=rollout.success, detail=score.detail))

    def _judge(self, events: list[Event], repeat: int) -> JudgeFn:
        async def judge(messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None,
                        vote: int = 0) -> str:
            # Votes sample apart: each gets its own seed (and cache entry).
            completion = await self.llm.chat("judge", messages, repeat=repeat + VOTE_SEED_STRIDE * vote,
                                             max_tokens=max_tokens, temperature=temperature)
            events.append(llm_event("judge", messages, completion))
            return completion.text

        return judge

    async def evaluate(self, prompt: ExtractionPrompt, pairs: Sequence[Pair], repeats: Sequence[int] = (0,),
                       store: RolloutStore | None = None) -> list[Rollout]:
        """Rollouts in (pair, repeat) order. Finished ones in `store` are reused, new ones appended at once."""
        # Twice the endpoint's slots at least: the endpoint's ranked semaphore, not this gate, must be the limit,
        # with enough rollouts waiting there to fill the last wave (see clue.llm.scheduling).
        gate = asyncio.Semaphore(max(self.concurrency, 2 * self.llm.slots("extractor")))
        backlog = Backlog()
        results: dict[str, Rollout] = {}

        async def one(pair: Pair, repeat: int) -> None:
            rid = rollout_id(prompt.hash, pair.key, repeat)
            done = store.get(rid) if store is not None else None
            if done is not None:
                results[rid] = done
                if self.on_rollout:
                    self.on_rollout(done, True)
                return
            backlog.join()
            try:
                async with gate:
                    rollout = await self.run_one(prompt, pair, repeat)
            finally:
                backlog.leave()
            if store is not None:
                store.append(rollout)
            results[rid] = rollout
            if self.on_rollout:
                self.on_rollout(rollout, False)

        try:
            async with asyncio.TaskGroup() as group:
                for pair in pairs:
                    for repeat in repeats:
                        group.create_task(one(pair, repeat))
        except* TransientLLMError as failures:
            raise RunAborted(str(failures.exceptions[0])) from None
        return [results[rollout_id(prompt.hash, pair.key, r)] for pair in pairs for r in repeats]

    async def aclose(self) -> None:
        """Close what the solvers hold (environment pools)."""
        closer = getattr(self.solvers, "aclose", None)
        if closer is not None:
            await closer()
