"""The environment pool and the built-in toy world."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from clue.bench.envs.pool import EnvPool
from clue.bench.envs.toy import SPEC, ToyRoom, parse_action


def test_the_toy_world_needs_the_right_order_and_reports_progress() -> None:
    room = ToyRoom()
    room.reset({"hiding_place": "box"})
    assert room.step("open chest").observation == "The chest is locked."
    assert room.step("take key").observation == "Nothing happens."
    assert room.step("open drawer").observation == "You open the drawer. Inside you see nothing."
    assert "take key" not in (room.valid_actions() or [])
    result = room.step("Open box.")
    assert result.observation == "You open the box. Inside you see a key." and result.reward == 1 / 3
    assert "take key" in (room.valid_actions() or [])
    room.step("take key")
    final = room.step("open chest")
    assert final.done and room.outcome().success and room.outcome().steps == 6
    room.reset({"hiding_place": "drawer"})
    assert not room.outcome().success and room.outcome().reward == 0.0


def test_actions_are_read_from_the_last_action_line() -> None:
    assert parse_action("Thought: hm\nAction: open box\nAction: take key") == "take key"
    assert parse_action("I will open the drawer\nopen drawer") == "open drawer"
    assert parse_action("") == ""


class ClosingRoom(ToyRoom):
    closed = 0

    def close(self) -> None:
        ClosingRoom.closed += 1


async def test_an_environment_that_cannot_be_reused_is_closed_after_each_episode() -> None:
    spec = dataclasses.replace(SPEC, make=lambda root: ClosingRoom(), reusable=False, pool_size=3)
    pool = EnvPool(spec, Path("."))

    async def episode(i: int) -> None:
        async with pool.lease() as live:
            await live.call(live.env.reset, {"hiding_place": "box"})
            await asyncio.sleep(0.01)

    await asyncio.gather(*(episode(i) for i in range(5)))
    await pool.aclose()
    assert pool.created == 5 and ClosingRoom.closed == 5


async def test_the_pool_size_override_beats_the_spec_and_idle_environments_are_closed_at_the_end() -> None:
    made: list[ClosingRoom] = []
    spec = dataclasses.replace(SPEC, make=lambda root: made.append(ClosingRoom()) or made[-1], pool_size=4)
    pool = EnvPool(spec, Path("."), size=1)
    ClosingRoom.closed = 0

    async def episode() -> None:
        async with pool.lease() as live:
            await live.call(live.env.reset, {})

    await asyncio.gather(*(episode() for _ in range(4)))
    assert pool.limit == 1 and len(made) == 1 and made[0].resets == 4
    await pool.aclose()
    assert ClosingRoom.closed == 1
