"""Evaluate an extraction prompt on pairs: extract, inject, solve, score; one rollout per (pair, repeat)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clue.bench.records import Pair
from clue.bench.rollouts import Rollout, RolloutStore, rollout_id
from clue.bench.tasks import JudgeFn, Task
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError
from clue.memory.extract import extract_memory
from clue.memory.inject import solver_system_prompt
from clue.memory.prompts import ExtractionPrompt

TaskLookup = Callable[[str], Task]
InfoLookup = Callable[[str], tuple[str, bool]]  # dataset -> (category, is_ood)
RolloutCallback = Callable[[Rollout, bool], None]  # (rollout, was_already_done)


class RunAborted(RuntimeError):
    """The endpoint stayed unreachable after retries; finished rollouts are kept for --resume."""


def _default_tasks(dataset: str) -> Task:
    from clue.bench.tasks import task_for

    return task_for(dataset)


def _default_info(dataset: str) -> tuple[str, bool]:
    from clue.bench.datasets import get_dataset

    spec = get_dataset(dataset)
    return spec.category, spec.ood


@dataclass
class Runner:
    llm: LLM
    tasks: TaskLookup = _default_tasks
    info: InfoLookup = _default_info
    concurrency: int = 32
    on_rollout: RolloutCallback | None = None

    async def run_one(self, prompt: ExtractionPrompt, pair: Pair, repeat: int) -> Rollout:
        category, ood = self.info(pair.dataset)
        rollout = Rollout(rollout_id=rollout_id(prompt.hash, pair.key, repeat), prompt_name=prompt.name,
                          prompt_hash=prompt.hash, dataset=pair.dataset, subset=pair.subset, category=category,
                          ood=ood, source_id=pair.source_id, target_id=pair.target_id, repeat=repeat)
        started = time.perf_counter()
        try:
            await self._fill(rollout, prompt, pair, repeat)
        except TransientLLMError:
            raise
        except (LLMError, ValueError) as exc:
            rollout.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            rollout.reward = 0.0
            # An endpoint or reply failure says nothing about the prompt: not a score, retried by --resume.
            rollout.infra_failure = isinstance(exc, LLMError)
        rollout.latency_s = time.perf_counter() - started
        return rollout

    async def _fill(self, rollout: Rollout, prompt: ExtractionPrompt, pair: Pair, repeat: int) -> None:
        task = self.tasks(pair.dataset)
        extraction = await extract_memory(self.llm, prompt, [t.model_dump() for t in pair.source_messages],
                                          repeat=repeat)
        rollout.memory = extraction.memory
        rollout.extract_prompt_tokens = extraction.prompt_tokens
        rollout.extract_completion_tokens = extraction.completion_tokens
        rollout.notes.extend(extraction.notes)
        messages: list[Message] = [{"role": "system", "content": solver_system_prompt(extraction.memory)},
                                   *task.query_messages(pair)]
        completion = await self.llm.chat("solver", messages, repeat=repeat)
        rollout.solver_output = completion.text
        rollout.solve_prompt_tokens = completion.prompt_tokens
        rollout.solve_completion_tokens = completion.completion_tokens
        rollout.notes.extend(completion.notes)
        score = await task.score(pair, completion.text, self._judge(rollout, repeat))
        rollout.reward = score.reward
        rollout.score_detail = score.detail

    def _judge(self, rollout: Rollout, repeat: int) -> JudgeFn:
        async def judge(messages: list[Message]) -> str:
            completion = await self.llm.chat("judge", messages, repeat=repeat)
            rollout.judge_tokens += completion.prompt_tokens + completion.completion_tokens
            return completion.text

        return judge

    async def evaluate(self, prompt: ExtractionPrompt, pairs: Sequence[Pair], repeats: Sequence[int] = (0,),
                       store: RolloutStore | None = None) -> list[Rollout]:
        """Rollouts in (pair, repeat) order. Finished ones in `store` are reused, new ones appended at once."""
        gate = asyncio.Semaphore(self.concurrency)
        results: dict[str, Rollout] = {}

        async def one(pair: Pair, repeat: int) -> None:
            rid = rollout_id(prompt.hash, pair.key, repeat)
            done = store.get(rid) if store is not None else None
            if done is not None:
                results[rid] = done
                if self.on_rollout:
                    self.on_rollout(done, True)
                return
            async with gate:
                rollout = await self.run_one(prompt, pair, repeat)
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
