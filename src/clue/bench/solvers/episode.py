"""`episode`: a ReAct-style agent loop over an Environment, as the reference's agentic adapters run it.

Messages: the EnvSpec's system prompt, then its first user message (the task and first observation). The
retrieved-memory block goes where the dataset's reference puts it (`EnvSpec.memory_placement`): appended to
the system prompt (GMemory-style: ALFWorld, FEVER, PDDL) or inside the first user message (AgentBoard-style:
BabyAI, ScienceWorld), where `first_user_message` places it. Every solver reply is one step: the action is
parsed from it, the environment steps, and the observation comes back as the next user turn. The episode
ends when the environment says done or at the dataset's step cap; the transcript then ends with the
closing turns (last observation and outcome line) that the released sources end with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clue.bench.data.records import Pair
from clue.bench.envs.base import (
    EnvSpec,
    MemoryPlacement,
    StepResult,
    default_closing_messages,
    valid_actions_observation,
)
from clue.bench.envs.pool import EnvPool, LiveEnv
from clue.bench.run.events import EnvResetEvent, EnvStepEvent, Event, NoteEvent
from clue.bench.solvers.base import Episode, SolveContext, SolverKind
from clue.bench.solvers.common import ReplyLimits, call_llm, record
from clue.llm.types import Message
from clue.memory.inject import memory_block, solver_system_prompt


@dataclass
class EpisodeSolver:
    spec: EnvSpec
    pool: EnvPool
    step_cap: int | None = None  # the dataset entry's cap; None: the environment's own (EnvSpec.step_cap)
    reply: ReplyLimits = field(default_factory=ReplyLimits)  # the dataset's max tokens and stop strings
    examples: int = 1  # worked example episodes in the prompt (0: none, as in memory runs of GMemory sets)
    kind: SolverKind = "episode"
    memory_placement: MemoryPlacement = "system"

    def __post_init__(self) -> None:
        self.memory_placement = self.spec.memory_placement

    @property
    def cap(self) -> int:
        return max(1, self.step_cap or self.spec.step_cap)

    def opening(self, pair: Pair, memory: str, observation: str) -> list[Message]:
        block = memory_block(memory)
        base = self.spec.system_prompt(pair.target, examples=self.examples)
        system = solver_system_prompt(memory, base) if self.memory_placement == "system" else base
        first = self.spec.first_user_message(pair.target, observation,
                                             block if self.memory_placement == "user" else "", examples=self.examples)
        return [{"role": "system", "content": system}, {"role": "user", "content": first}]

    async def solve(self, pair: Pair, memory: str, ctx: SolveContext) -> Episode:
        events: list[Event] = []
        async with self.pool.lease() as live:
            timeout = self.pool.call_timeout_s
            observation = await live.call(live.env.reset, pair.target, timeout_s=timeout)
            record(ctx, events, EnvResetEvent(observation=observation))
            messages = self.opening(pair, memory, observation)
            final_text = ""
            for index in range(1, self.cap + 1):
                completion = await call_llm(ctx, messages, events, limits=self.reply)
                final_text = completion.text
                messages.append({"role": "assistant", "content": completion.text})
                action = self.spec.parse_action(completion.text)
                result = await self._step(live, action)
                observation = result.observation
                record(ctx, events, EnvStepEvent(index=index, action=action, observation=observation,
                                                 reward=result.reward, done=result.done, info=result.info))
                if result.done:
                    break
                if index == self.cap:
                    record(ctx, events, NoteEvent(text=f"step cap {self.cap} reached"))
                    break
                messages.append({"role": "user", "content": observation})
            outcome = await live.call(live.env.outcome, timeout_s=timeout)
        closing = (self.spec.closing_messages or default_closing_messages)(outcome, observation)
        messages.extend({"role": "user", "content": line} for line in closing)
        return Episode(messages=messages, events=events, final_text=final_text, outcome=outcome)

    async def _step(self, live: LiveEnv, action: str) -> StepResult:
        command = self.spec.valid_actions_command
        if command is not None and action.strip().lower().rstrip(".") == command.lower():
            actions = await live.call(live.env.valid_actions, timeout_s=self.pool.call_timeout_s)
            if actions is not None:
                progress = await live.call(live.env.outcome, timeout_s=self.pool.call_timeout_s)
                return StepResult(observation=valid_actions_observation(actions), reward=progress.reward,
                                  done=False, info={"listed_valid_actions": True})
        return await live.call(live.env.step, action, timeout_s=self.pool.call_timeout_s)
