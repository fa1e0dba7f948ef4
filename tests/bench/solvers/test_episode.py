"""The episode solver over the built-in toy environment, driven by scripted replies: the ReAct loop, the
valid-actions command, the step cap, memory placement, the closing outcome lines, and the typed events."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from clue.bench.data.records import Pair, Turn
from clue.bench.envs.base import FAILURE_LINE, SUCCESS_LINE, EnvSpec
from clue.bench.envs.pool import EnvPool
from clue.bench.envs.toy import SPEC, ToyRoom
from clue.bench.run.events import EnvResetEvent, EnvStepEvent, LLMCallEvent, NoteEvent, ScoreEvent, expand_messages
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import Runner
from clue.bench.scorers.tasks import OutcomeTask
from clue.bench.solvers.base import SolveContext
from clue.bench.solvers.episode import EpisodeSolver
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

MEMORY = "1. In these rooms the key hides in the cabinet."
WINNING = ["I should look.\nAction: check valid actions", "Action: open cabinet", "Action: take key",
           "Thought: now the chest.\nAction: open chest"]


def toy_pair(index: int = 0, hiding_place: str = "cabinet") -> Pair:
    return Pair(dataset="toy", subset="toy", source_id=index, target_id=100 + index,
                source_messages=[Turn(role="user", content="Earlier the key was in the cabinet.")],
                target={"id": 100 + index, "goal": "open the chest", "hiding_place": hiding_place})


def solver_for(spec: EnvSpec = SPEC, *, size: int | None = None, step_cap: int | None = None) -> EpisodeSolver:
    return EpisodeSolver(spec, EnvPool(spec, Path("."), size=size), step_cap=step_cap)


def llm_with(backend: ScriptedBackend, *overrides: str) -> LLM:
    from clue.config import parse_role_overrides

    return LLM(load_settings(env={}, role_overrides=parse_role_overrides(list(overrides))), backend=backend,
               cache=None)


async def test_a_winning_episode_steps_lists_valid_actions_and_ends_with_the_outcome_line() -> None:
    backend = ScriptedBackend(list(WINNING))
    solver = solver_for()
    try:
        episode = await solver.solve(toy_pair(), MEMORY, SolveContext(llm_with(backend)))
    finally:
        await solver.pool.aclose()
    assert episode.outcome is not None and episode.outcome.success and episode.outcome.reward == 1.0
    assert episode.outcome.steps == 3  # the valid-actions listing is answered by the solver, not stepped
    steps = [e for e in episode.events if isinstance(e, EnvStepEvent)]
    assert [s.action for s in steps] == ["check valid actions", "open cabinet", "take key", "open chest"]
    assert steps[0].observation.startswith("The valid actions now are: open drawer, open cabinet")
    assert steps[-1].done and [s.index for s in steps] == [1, 2, 3, 4]
    assert isinstance(episode.events[0], EnvResetEvent)
    assert sum(isinstance(e, LLMCallEvent) for e in episode.events) == 4
    # The observation after each step is the next user turn; the transcript ends as released sources do.
    assert episode.messages[-2:] == [{"role": "user", "content": "You unlock the chest with the key and open it."},
                                     {"role": "user", "content": SUCCESS_LINE}]
    third_call = backend.calls[2].messages
    assert third_call[-1] == {"role": "user", "content": "You open the cabinet. Inside you see a key."}
    assert MEMORY in third_call[0]["content"] and MEMORY not in third_call[1]["content"]  # system placement


async def test_the_step_cap_ends_a_losing_episode() -> None:
    backend = ScriptedBackend(lambda call: "Action: open box")
    solver = solver_for(step_cap=3)
    try:
        episode = await solver.solve(toy_pair(hiding_place="drawer"), "", SolveContext(llm_with(backend)))
    finally:
        await solver.pool.aclose()
    assert len(backend.calls) == 3 and episode.outcome is not None and not episode.outcome.success
    assert any(isinstance(e, NoteEvent) and "step cap 3" in e.text for e in episode.events)
    assert episode.messages[-1] == {"role": "user", "content": FAILURE_LINE}
    assert all("<memory>" not in m["content"] for m in backend.calls[0].messages)


async def test_user_placement_puts_the_memory_block_in_the_first_user_message() -> None:
    backend = ScriptedBackend(list(WINNING[1:]))
    solver = solver_for(dataclasses.replace(SPEC, memory_placement="user"))
    try:
        await solver.solve(toy_pair(), MEMORY, SolveContext(llm_with(backend)))
    finally:
        await solver.pool.aclose()
    system, first = backend.calls[0].messages
    assert MEMORY not in system["content"]
    assert first["content"].index("Your goal") < first["content"].index(MEMORY) < first["content"].index(
        "Observation:")


class CountingRoom(ToyRoom):
    live = 0
    most = 0
    threads: ClassVar[set[int]] = set()
    lock = threading.Lock()

    def reset(self, target):  # type: ignore[no-untyped-def]
        with CountingRoom.lock:
            CountingRoom.live += 1
            CountingRoom.most = max(CountingRoom.most, CountingRoom.live)
            CountingRoom.threads.add(threading.get_ident())
        return super().reset(target)

    def outcome(self):  # type: ignore[no-untyped-def]
        with CountingRoom.lock:
            CountingRoom.live -= 1
        return super().outcome()


def _winning_replies(call: ScriptedCall) -> str:
    if call.messages[0]["content"].startswith("You are an expert") or "<conversation>" in call.messages[-1][
            "content"]:
        return MEMORY
    last = call.messages[-1]["content"]
    if "Inside you see a key" in last:
        return "Action: take key"
    if "You take the key" in last:
        return "Action: open chest"
    return "Action: open cabinet"


async def test_runner_episodes_share_a_pool_with_its_own_limit_and_reuse_environments(tmp_path: Path) -> None:
    made: list[CountingRoom] = []

    def make(env_root: Path) -> CountingRoom:
        room = CountingRoom()
        made.append(room)
        return room

    spec = dataclasses.replace(SPEC, make=make, pool_size=2)
    solver = solver_for(spec)
    backend = ScriptedBackend(_winning_replies, latency_s=0.01)
    llm = llm_with(backend, "solver.concurrency=8", "extractor.concurrency=8")
    runner = Runner(llm, tasks=lambda d: OutcomeTask(), info=lambda d: ("agentic", False), solvers=lambda d: solver)
    store = RolloutStore(tmp_path / "rollouts.jsonl")
    try:
        rollouts = await runner.evaluate(load_prompt("simple"), [toy_pair(i) for i in range(6)], store=store)
    finally:
        store.close()
        await solver.pool.aclose()
    assert [r.reward for r in rollouts] == [1.0] * 6 and all(r.success for r in rollouts)
    assert CountingRoom.most <= 2 and len(made) == 2, "two live environments, reused across six episodes"
    assert sum(room.resets for room in made) == 6
    assert len(CountingRoom.threads) == 2, "each live environment keeps its own thread"
    rollout = RolloutStore(tmp_path / "rollouts.jsonl").rollouts[rollouts[0].rollout_id]
    kinds = [e.kind for e in rollout.events]
    assert kinds[0] == "llm" and kinds[1] == "reset" and kinds[-1] == "score"
    assert [e.role for e in rollout.events if isinstance(e, LLMCallEvent)] == ["extractor"] + ["solver"] * 3
    assert isinstance(rollout.events[-1], ScoreEvent) and rollout.events[-1].success is True
    assert rollout.memory == MEMORY and rollout.solver_output == "Action: open chest"
    assert rollout.solve_prompt_tokens == sum(e.prompt_tokens for e in rollout.events
                                              if isinstance(e, LLMCallEvent) and e.role == "solver") > 0
    # Stored compactly (each call keeps only what is new since the previous one), restored exactly.
    solver_calls = [e for e in rollout.events if isinstance(e, LLMCallEvent) and e.role == "solver"]
    assert [e.prefix for e in solver_calls] == [0, 3, 5] and len(solver_calls[2].messages) == 1
    sent = {tuple(m["content"] for m in c.messages) for c in backend.calls}
    assert all(tuple(m["content"] for m in full) in sent for full in expand_messages(rollout.events))
    assert [len(full) for full in expand_messages(rollout.events)] == [2, 2, 4, 6]


class BrokenRoom(ToyRoom):
    def step(self, action: str):  # type: ignore[no-untyped-def]
        raise RuntimeError("engine segfaulted")


async def test_a_crashing_environment_is_an_infrastructure_failure_and_is_replaced(tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, make=lambda root: BrokenRoom(), pool_size=1)
    solver = solver_for(spec)
    runner = Runner(llm_with(ScriptedBackend(_winning_replies)), tasks=lambda d: OutcomeTask(),
                    info=lambda d: ("agentic", False), solvers=lambda d: solver)
    try:
        rollouts = await runner.evaluate(load_prompt("simple"), [toy_pair(0), toy_pair(1)])
    finally:
        await solver.pool.aclose()
    for rollout in rollouts:
        assert rollout.infra_failure and rollout.reward == 0.0
        assert rollout.error is not None and "environment crashed: RuntimeError: engine segfaulted" in rollout.error
        assert any(isinstance(e, EnvResetEvent) for e in rollout.events)
    assert solver.pool.created == 2, "a broken environment is not handed to the next episode"


async def test_a_hung_environment_times_out() -> None:
    class HungRoom(ToyRoom):
        def step(self, action: str):  # type: ignore[no-untyped-def]
            threading.Event().wait(2)
            return super().step(action)

    spec = dataclasses.replace(SPEC, make=lambda root: HungRoom())
    solver = EpisodeSolver(spec, EnvPool(spec, Path("."), call_timeout_s=0.2))
    from clue.bench.envs.base import EnvironmentFailure

    with pytest.raises(EnvironmentFailure, match=r"did not answer within 0\.2 s"):
        await solver.solve(toy_pair(), "", SolveContext(llm_with(ScriptedBackend(["Action: open box"]))))
    await solver.pool.aclose()
