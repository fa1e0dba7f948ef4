"""Tournament and finals selection (ties on tokens, then time), pair layout, and cache reuse."""

from __future__ import annotations

from pathlib import Path

from support.lineage import read_lineage

from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.harness import PromptScore
from clue.evolve.protocol import EvolveSettings
from clue.evolve.schedule import finals_keys, pool_slice
from clue.evolve.state import RunState
from clue.evolve.tournament_run import rank, select_top
from clue.evolve.watch import RecordingReporter
from clue.llm.backends.scripted import ScriptedCall
from clue.memory.prompts import load_prompt

from .conftest import World, default_edit, kind_of, make_pairs, make_setup


def score(name: str, accuracy: float, tokens: int = 100, seconds: float = 1.0) -> PromptScore:
    return PromptScore(prompt_hash=name, accuracy=accuracy, tokens=tokens, seconds=seconds, n=10)


def test_ties_go_to_the_incumbent_by_default_and_to_fewer_tokens_as_an_option() -> None:
    scores = [score("base", 0.5, 100, 1.0), score("a", 0.7, 300, 9.0), score("b", 0.5, 90, 5.0),
              score("c", 0.5, 90, 2.0), score("d", 0.5, 90, 2.0)]
    # Reference code: tokens are never filled, so the entry order (base first) settles every tie.
    assert [s.prompt_hash for s in rank(scores)] == ["a", "base", "b", "c", "d"]
    assert select_top(scores, 2) == ["a", "base"]
    # The paper's text: fewer tokens, then less time, then entry order.
    assert [s.prompt_hash for s in rank(scores, "tokens")] == ["a", "c", "d", "b", "base"]
    assert select_top(scores, 0) == ["a"]  # always at least one finalist


def test_pool_slice_wraps_around() -> None:
    assert pool_slice(["a", "b", "c"], 2, 2) == ["c", "a"]
    assert pool_slice(["a", "b"], 0, 5) == ["a", "b"]
    assert pool_slice([], 0, 3) == []


def test_finals_resample_this_rounds_batch_and_take_the_next_batch() -> None:
    pool = [f"k{i}" for i in range(30)]
    for cursor, round_index in ((0, 0), (10, 1), (20, 2)):
        resampled, new = finals_keys(pool, cursor=cursor, batch=5, resample=3, seed=42, round_index=round_index)
        assert len(resampled) == 3 and set(resampled) <= set(pool[cursor:cursor + 5])  # the current batch
        assert new == pool[cursor + 5:cursor + 10]
    assert finals_keys(pool, 10, 5, 3, 42, 1) == finals_keys(pool, 10, 5, 3, 42, 1)  # seeded
    draws = {tuple(finals_keys(pool, 10, 5, 3, seed, 1)[0]) for seed in range(20)}
    assert len(draws) > 1  # the draw depends on the seed
    # A pool that wraps: the next batch never repeats a resampled key.
    resampled, new = finals_keys(pool[:7], cursor=0, batch=5, resample=3, seed=1, round_index=0)
    assert not set(resampled) & set(new)


def _extract_calls_with(world_calls: list[tuple[str, str]], prompt_text: str) -> int:
    return sum(1 for system, _ in world_calls if system == prompt_text)


async def test_the_tournament_reuses_the_base_batch_the_finals_rerun_resampled_pairs_and_pick_the_best(
        tmp_path: Path) -> None:
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
    # Finalists are the top 2 of the tournament (ties to the earlier entrant); the finals pick the winner.
    best_two = sorted(rs.tournament, key=lambda s: -s.accuracy)[:2]
    assert rs.finalists == [s.prompt_hash for s in best_two]
    assert len(rs.finals_pairs) == 2 + 6 and set(rs.finals_pairs[:2]) <= set(rs.batch)
    assert result.best.hash == rs.winner
    winner = state.prompts[rs.winner]
    # Finals: the finalists run again on the 2 resampled pairs (fresh rollouts, as the reference does: a score
    # must not come from the rollouts a finalist was selected on) and on the 6 new pairs.
    assert _extract_calls_with(calls, winner.text) == 6 + 2 + 6
    assert rs.new_rollouts == 6 + 3 * 6 + 2 * (2 + 6)
    assert len(world.extractions) == len(set(world.extractions))
    assert (tmp_path / "best_prompt.txt").read_text() == winner.text
    lineage = read_lineage(tmp_path)
    assert lineage.rounds[0].winner_hash == winner.hash == lineage.best_hash
    assert next(e for e in lineage.entries if e.hash == winner.hash).status in ("winner", "seed")
    curve = setup.harness.recorder_for(tmp_path).progress  # the run record's progress curve
    assert [p.round for p in curve] == [1]
    progress = curve[0]
    assert progress.best_hash == winner.hash and progress.rollouts_spent == rs.new_rollouts
    assert progress.tournament[seed.hash] == 0.0 and set(progress.finals) == set(rs.finalists)


async def test_the_next_batch_is_disjoint_from_the_previous_finals(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    settings = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(30), setup.harness, settings, tmp_path,
                                   False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    first, second = state.rounds
    assert first.batch == state.pool[0:6] and second.batch == state.pool[12:18]  # the cursor moved by 12
    assert not set(second.batch) & set(first.finals_pairs)  # no rollout the incumbent won on is reused
    assert set(second.finals_pairs[:2]) <= set(second.batch)
    assert second.base_hash == first.winner
    assert state.cursor == 24
    # Round 2's base runs on pairs it has never seen, so the baseline step costs a full batch.
    assert second.new_rollouts == 6 + 3 * 6 + 2 * (2 + 6)
    assert [p.round for p in setup.harness.recorder_for(tmp_path).progress] == [1, 2]


async def test_reuse_finals_serves_the_resampled_pairs_from_the_tournament(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    settings = EvolveSettings(rounds=1, batch=6, candidates=3, top=2, resample=2, reuse_finals=True)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(24), setup.harness, settings, tmp_path, False)
    rs = RunState.model_validate_json((tmp_path / "state.json").read_text()).rounds[0]
    assert rs.new_rollouts == 6 + 3 * 6 + 2 * 6  # only the 6 new finals pairs are new
    assert rs.reused_rollouts >= 2 * 2


async def test_the_paper_schedule_reruns_instead_of_reusing(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    settings = EvolveSettings(rounds=1, batch=6, candidates=3, top=2, resample=2, reuse_rollouts=False,
                              concurrent_candidates=False)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(24), setup.harness, settings, tmp_path,
                                   False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    rs = state.rounds[0]
    # base 6, then base + 3 candidates on the batch again, then 2 finalists on 2 resampled + 6 new pairs.
    assert rs.new_rollouts == 6 + 4 * 6 + 2 * 8 and rs.reused_rollouts == 0
    assert world.counts["extract"] == rs.new_rollouts


async def test_the_cursor_wraps_around_a_small_pool(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, World())
    settings = EvolveSettings(rounds=2, batch=6, candidates=2, top=2, resample=2)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(16), setup.harness, settings, tmp_path,
                                   False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    pool = state.pool
    first, second = state.rounds
    assert first.finals_pairs[2:] == pool[6:12]
    assert second.batch == pool[12:16] + pool[0:2]  # cursor 12 runs off the end and wraps
    assert [k for k in second.finals_pairs[2:]] == [k for k in pool[2:8] if k not in second.finals_pairs[:2]]
    assert state.cursor == 24


async def test_a_duplicate_candidate_names_the_earlier_candidate_it_repeats(tmp_path: Path) -> None:
    """c1 and c2 propose the same text; c1's first reply is unusable, so c2 is drafted first. The duplicate is
    still c2 (entry order), and it names c1, not itself; the shared prompt carries c1's name."""

    class SameTwice(World):
        def __call__(self, call: ScriptedCall) -> str:
            if kind_of(call) == "synthesize" and call.decoding.seed == 42:
                if len(call.messages) == 2:
                    return '{"not": "a candidate"}'  # asked again, so c1 lands after c2
                call = ScriptedCall(call.model, call.messages[:2], call.decoding, call.json_schema)
            return super().__call__(call)

    world = SameTwice(edit=lambda index, user: default_edit(0, user))
    setup = make_setup(tmp_path, world)
    setup.backend.latency_s = 0.001  # calls really wait, so the two drafts interleave
    reporter = RecordingReporter()
    settings = EvolveSettings(rounds=1, batch=6, candidates=2, top=2, resample=2)
    await ClueOptimizer(reporter).optimize(load_prompt("simple"), make_pairs(30), setup.harness, settings,
                                           tmp_path, False)
    assert ("rejected", ("clue-r1-c2", "same text as clue-r1-c1")) in reporter.events
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    first = state.rounds[0].candidates["0"]
    assert state.prompts[first.hash or ""].name == "clue-r1-c1"
    assert [s.name for s in state.rounds[0].tournament] == ["simple", "clue-r1-c1"]
