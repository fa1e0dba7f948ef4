"""The BigCodeBench solver: one reply with a solution, run against the task's unit tests in the sandbox.

As in the reference adapter the memory goes in the system prompt, under a "# Retrieved Memory" heading,
and the user turn is the task's instruction prompt. The reward is 1 when every unit test passes.
The paper mentions a memory budget of about 2,000 tokens, but the reference code never applies it; so by
default the memory is not cut (`memory_budget_tokens` turns the cut on).
"""

from __future__ import annotations

from pathlib import Path

from clue.bench.data.records import Pair
from clue.bench.envs.base import MemoryPlacement, Outcome
from clue.bench.envs.root import default_env_root
from clue.bench.run.events import Event, NoteEvent, ScoreEvent
from clue.bench.sandbox.bigcodebench import (
    CHECK_LIMITS,
    BigCodeBenchTask,
    check_solution,
    extract_code,
    load_tasks,
)
from clue.bench.sandbox.isolation import Sandbox
from clue.bench.solvers.base import Episode, SolveContext, SolverKind
from clue.bench.solvers.code_rounds import llm_event
from clue.bench.solvers.common import ReplyLimits, solver_chat
from clue.errors import BadInputError
from clue.llm.types import Message

_RULES = """Rules for BigCodeBench solutions:
- Keep the required function signature, return type, and any exception types and messages the task asks for.
- Raise exactly the exception class and message the task specifies; never wrap a specific exception in a
  generic one.
- Import every module you use, drop imports you do not use, and never rely on an implicit import.
- No broad `except Exception` unless the task asks for it.
- No network access, and no file input or output beyond what the task requires.
- Deterministic code: no randomness or time-dependent behaviour the task does not ask for, no needless logging.
"""

SYSTEM_PROMPT = "You are a skilled Python programmer who solves BigCodeBench coding tasks.\n\n" + _RULES
SYSTEM_PROMPT_WITH_MEMORY = (
    "You are a skilled Python programmer who solves BigCodeBench coding tasks.\n\n"
    "A retrieved-memory block below may hold experience from similar problems. Treat it as inspiration, not "
    "as a solution: study the current task on its own terms and adapt what you use to what it needs. "
    "Write clean, correct Python.\n\n" + _RULES
)


def system_prompt(memory: str) -> str:
    if not memory.strip():
        return SYSTEM_PROMPT.strip()
    return f"{SYSTEM_PROMPT_WITH_MEMORY.strip()}\n\n# Retrieved Memory\n{memory.strip()}"


def task_of(pair: Pair, tasks: dict[str, BigCodeBenchTask]) -> BigCodeBenchTask:
    """The BigCodeBench task a target names (by `task_id`); a target line with its own tests is used as is."""
    task_id = str(pair.target.get("task_id", ""))
    if task_id in tasks:
        return tasks[task_id]
    try:
        return BigCodeBenchTask.model_validate(
            {"instruct_prompt": pair.target.get("task_main", ""), **pair.target})
    except ValueError:
        raise BadInputError(f"bigcodebench target {pair.target_id}: task {task_id!r} is neither in the tasks "
                            "file nor carries its own tests") from None


class CodeTestsSolver:
    kind: SolverKind = "code_tests"
    memory_placement: MemoryPlacement = "system"

    def __init__(self, env_root: Path | None = None, sandbox: Sandbox | None = None, *,
                 memory_budget_tokens: int | None = None, reply: ReplyLimits | None = None) -> None:
        self.env_root = env_root or default_env_root()
        self.reply = reply or ReplyLimits()  # the dataset's max tokens (1,280 in the reference)
        self.sandbox = sandbox or Sandbox(CHECK_LIMITS)  # shared, so its concurrency limit spans all episodes
        self.memory_budget_tokens = memory_budget_tokens

    async def solve(self, pair: Pair, memory: str, ctx: SolveContext) -> Episode:
        task = task_of(pair, load_tasks(self.env_root))
        sandbox = self.sandbox
        fitted = self._within_budget(memory, ctx)
        messages: list[Message] = [{"role": "system", "content": system_prompt(fitted)},
                                   {"role": "user", "content": task.instruct_prompt}]
        episode = Episode(messages=list(messages))

        def record(event: Event) -> None:
            episode.events.append(event)
            ctx.record(event)

        if fitted != memory:
            record(NoteEvent(text=f"memory cut to {self.memory_budget_tokens} tokens"))
        completion = await solver_chat(ctx, messages, self.reply)
        record(llm_event(messages, completion))
        episode.messages.append({"role": "assistant", "content": completion.text})
        code = extract_code(completion.text)
        outcome = await check_solution(task, code, sandbox)
        if outcome.run is not None:
            record(outcome.run.to_event(code))
        reward = 1.0 if outcome.passed else 0.0
        record(ScoreEvent(reward=reward, success=outcome.passed, detail=f"{outcome.status}: {outcome.detail}"
                          if outcome.detail else outcome.status))
        episode.final_text = completion.text
        episode.answer = code
        episode.outcome = Outcome(success=outcome.passed, reward=reward, steps=1)
        return episode

    def _within_budget(self, memory: str, ctx: SolveContext) -> str:
        budget = self.memory_budget_tokens
        if budget is None or ctx.llm.count_tokens("solver", memory) <= budget:
            return memory
        low, high = 0, len(memory)  # the longest head of the memory that fits the budget
        while low < high:
            middle = (low + high + 1) // 2
            if ctx.llm.count_tokens("solver", memory[:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        return memory[:low]
