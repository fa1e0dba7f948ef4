"""Tournament and finals selection (ties on tokens, then time), pair layout, and cache reuse."""

from __future__ import annotations

import json
from pathlib import Path

from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.harness import PromptScore
from clue.evolve.protocol import EvolveSettings
from clue.evolve.state import RunState
from clue.evolve.tournament import finals_keys, pool_slice, rank, select_top
from clue.memory.prompts import load_prompt

from .conftest import World, make_pairs, make_setup


def score(name: str, accuracy: float, tokens: int = 100, seconds: float = 1.0) -> PromptScore:
    return PromptScore(prompt_hash=name, accuracy=accuracy, tokens=tokens, seconds=seconds, n=10)


def test_rank_by_accuracy_then_tokens_then_time_then_entry_order() -> None:
    scores = [score("base", 0.5, 100, 1.0), score("a", 0.7, 300, 9.0), score("b", 0.5, 90, 5.0),
              score("c", 0.5, 90, 2.0), score("d", 0.5, 90, 2.0)]
    assert [s.prompt_hash for s in rank(scores)] == ["a", "c", "d", "b", "base"]
    assert select_top(scores, 2) == ["a", "c"]
    assert select_top(scores, 0) == ["a"]  # always at least one finalist


def test_pool_slice_wraps_around() -> None:
    assert pool_slice(["a", "b", "c"], 2, 2) == ["c", "a"]
    assert pool_slice(["a", "b"], 0, 5) == ["a", "b"]
    assert pool_slice([], 0, 3) == []


def test_finals_resample_earlier_batches_and_take_the_next_batch() -> None:
    pool = [f"k{i}" for i in range(30)]
    resampled, new = finals_keys(pool, cursor=0, batch=5, resample=3, seed=42, round_index=0)
    assert new == pool[5:10]  # the next batch (round 2's batch)
    assert set(resampled) <= set(pool[:5])  # round 1: nothing earlier, so from the current batch
    resampled2, new2 = finals_keys(pool, cursor=10, batch=5, resample=3, seed=42, round_index=2)
    assert set(resampled2) <= set(pool[:10]) and len(resampled2) == 3
    assert new2 == pool[15:20]
    assert finals_keys(pool, 10, 5, 3, 42, 2) == (resampled2, new2)  # seeded
    assert finals_keys(pool, 10, 5, 3, 7, 2)[0] != resampled2 or True  # other seeds may differ


def _extract_calls_with(world_calls: list[tuple[str, str]], prompt_text: str) -> int:
    return sum(1 for system, _ in world_calls if system == prompt_text)


async def test_tournament_and_finals_reuse_the_base_batch_and_pick_the_best(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    seed = load_prompt("simple")
    settings = EvolveSettings(rounds=1, batch=6, candidates=3, top=2, resample=2)
    result = await ClueOptimizer().optimize(seed, make_pairs(24), setup.harness, settings, tmp_path, False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    rs = state.rounds[0]
    calls = [(c.messages[0]["content"], c.messages[1]["content"])
             for c in setup.backend.calls if c.model == "ext"]
    # The seed scores 0 and is no finalist: it ran on the batch once, never again in the tournament.
    assert _extract_calls_with(calls, seed.text) == 6
    assert rs.tournament[0].prompt_hash == seed.hash and rs.tournament[0].accuracy == 0.0
    assert len(rs.tournament) == 4
    # Finalists are the top 2 of the tournament; the finals pick the winner among them.
    best_two = sorted(rs.tournament, key=lambda s: -s.accuracy)[:2]
    assert rs.finalists == [s.prompt_hash for s in best_two]
    assert len(rs.finals_pairs) == 2 + 6 and [s.prompt_hash for s in rs.finals] == rs.finalists
    assert result.best.hash == rs.winner == best_two[0].prompt_hash
    winner = state.prompts[rs.winner]
    # Finals: resampled pairs came from the batch the finalists already ran: only the 6 new pairs are new.
    assert _extract_calls_with(calls, winner.text) == 6 + 6
    assert rs.new_rollouts == 6 + 3 * 6 + 2 * 6
    assert len(world.extractions) == len(set(world.extractions))
    assert (tmp_path / "best_prompt.txt").read_text() == winner.text
    lineage = json.loads((tmp_path / "lineage.json").read_text())
    assert lineage["rounds"][0]["winner"]["hash"] == winner.hash


async def test_the_next_round_base_evaluation_is_free(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    settings = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(30), setup.harness, settings, tmp_path,
                                   False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    first, second = state.rounds
    assert second.batch == [k for k in first.finals_pairs if k not in first.batch][:6]
    assert second.base_hash == first.winner
    # Round 2's baseline step cost nothing: the winner ran on these pairs in round 1's finals.
    assert second.new_rollouts <= 3 * 6 + 2 * 6 + 2  # tournament + finals (+ a resample for a candidate)
