"""Cluster pool rules: at most K, at least 2 per cluster, every example exactly once, repairs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

from clue.bench.run.rollouts import Rollout
from clue.evolve.cluster import (
    ProposedCluster,
    cluster_examples,
    cluster_messages,
    repair_assignment,
    update_pool,
)
from clue.evolve.state import ClusterRecord, PoolCluster
from clue.evolve.summarize import ExampleLog
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM

from .conftest import make_pairs, settings

SUMMARIES = {
    "e01": "Keep exact numbers such as codes; hard because they appear once.",
    "e02": "Keep exact numbers and amounts; hard because many numbers compete.",
    "e03": "Keep personal names of friends; hard because names are casual.",
    "e04": "Keep personal names and relations; hard because of nicknames.",
    "e05": "Keep the failed strategy and why it failed; hard because the trajectory is long.",
    "e06": "Keep the working strategy steps; hard because steps are scattered.",
    "e07": "Keep exact numbers in a long table; hard because of noise.",
}


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"c{next(counter)}"


def check_rules(clusters: list[ClusterRecord], examples: list[str], k: int) -> None:
    assert 1 <= len(clusters) <= k
    members = [m for c in clusters for m in c.members]
    assert sorted(members) == sorted(examples)  # every example exactly once
    assert all(len(c.members) >= 2 for c in clusters)
    assert len({c.id for c in clusters}) == len(clusters)


def test_a_good_assignment_is_kept_as_is() -> None:
    proposed = [ProposedCluster(label="numbers", members=["e01", "e02", "e07"]),
                ProposedCluster(label="names", members=["e03", "e04"]),
                ProposedCluster(label="strategies", members=["e05", "e06"])]
    clusters, notes = repair_assignment(proposed, SUMMARIES, pool_ids=set(), max_clusters=7, new_id=ids())
    assert notes == []
    assert [c.members for c in clusters] == [["e01", "e02", "e07"], ["e03", "e04"], ["e05", "e06"]]
    check_rules(clusters, list(SUMMARIES), 7)


def test_a_bad_assignment_is_repaired_to_the_rules() -> None:
    proposed = [
        ProposedCluster(id="c9", label="numbers", description="exact numbers codes amounts",
                        members=["e01", "e02", "e99", "e03"]),  # unknown id e99; e03 claimed twice
        ProposedCluster(label="names", description="personal names of friends", members=["e03", "e04"]),
        ProposedCluster(label="lonely", description="misc", members=["e06"]),  # too small
        ProposedCluster(label="empty", members=[]),
        # e05 and e07 are unassigned
    ]
    clusters, notes = repair_assignment(proposed, SUMMARIES, pool_ids={"c9"}, max_clusters=7, new_id=ids())
    check_rules(clusters, list(SUMMARIES), 7)
    by_label = {c.label: c for c in clusters}
    assert by_label["numbers"].id == "c9"  # a pool id is reused
    assert "e03" in by_label["names"].members  # the duplicate stays where its summary fits best
    assert "e07" in by_label["numbers"].members  # unassigned: best token overlap
    assert any("unknown example id 'e99'" in n for n in notes)
    assert any("e03 was in 2 clusters" in n for n in notes)
    assert any("fewer than 2" in n for n in notes)


def test_too_many_clusters_are_merged_down_to_k() -> None:
    proposed = [ProposedCluster(label=f"s{i}", members=[e]) for i, e in enumerate(SUMMARIES)]
    clusters, notes = repair_assignment(proposed, SUMMARIES, pool_ids=set(), max_clusters=2, new_id=ids())
    check_rules(clusters, list(SUMMARIES), 2)
    assert notes


def test_unknown_or_repeated_cluster_ids_get_fresh_ids() -> None:
    proposed = [ProposedCluster(id="c1", label="a", members=["e01", "e02", "e07"]),
                ProposedCluster(id="c1", label="b", members=["e03", "e04"]),
                ProposedCluster(id="zzz", label="c", members=["e05", "e06"])]
    fresh = iter(["c10", "c11"])
    clusters, _ = repair_assignment(proposed, SUMMARIES, pool_ids={"c1"}, max_clusters=7,
                                    new_id=lambda: next(fresh))
    assert [c.id for c in clusters] == ["c1", "c10", "c11"]


def test_a_batch_too_small_for_two_per_cluster_gives_one_cluster() -> None:
    clusters, _ = repair_assignment([], {"e01": "x"}, pool_ids=set(), max_clusters=7, new_id=ids())
    assert [c.members for c in clusters] == [["e01"]]


def _logs() -> list[ExampleLog]:
    pairs = make_pairs(7)
    logs = []
    for number, (pair, summary) in enumerate(zip(pairs, SUMMARIES.values(), strict=True), start=1):
        rollout = Rollout(rollout_id=f"r{number}", prompt_name="p", prompt_hash="h", dataset=pair.dataset,
                          subset=pair.subset, category="c", ood=False, source_id=pair.source_id,
                          target_id=pair.target_id, repeat=0, reward=float(number % 2))
        logs.append(ExampleLog(f"e{number:02d}", pair, rollout, "task", summary))
    return logs


async def test_the_llm_reply_is_repaired_and_the_pool_is_offered() -> None:
    pool = [PoolCluster(id="c1", label="numbers", description="keeping exact numbers")]
    seen: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        seen.append(call)
        return json.dumps({"clusters": [
            {"id": "c1", "label": "numbers", "description": "exact numbers",
             "members": ["e01", "e02", "e07", "e1"]},
            {"id": "new", "label": "names", "description": "names", "members": ["e03"]},
            {"id": "new", "label": "strategies", "description": "strategy steps",
             "members": ["e05", "e06", "e05"]},
        ]})

    llm = LLM(settings(), backend=ScriptedBackend(responder), cache=None)
    result = await cluster_examples(llm, _logs(), pool, max_clusters=7, new_id=ids())
    check_rules(result.clusters, list(SUMMARIES), 7)
    assert result.used_model
    assert result.clusters[0].id == "c1"
    user = seen[0].messages[1]["content"]
    assert "- c1: numbers. keeping exact numbers" in user and "- e01 [success]:" in user
    assert "toyalpha" not in user and "toybeta" not in user  # scenario, never dataset


async def test_an_unusable_reply_falls_back_to_a_repaired_grouping() -> None:
    llm = LLM(settings(), backend=ScriptedBackend(lambda call: "not json at all"), cache=None)
    result = await cluster_examples(llm, _logs(), [], max_clusters=7, new_id=ids())
    assert not result.used_model
    check_rules(result.clusters, list(SUMMARIES), 7)
    assert {c.label for c in result.clusters} == {"successes", "failures"}


def test_prompt_states_the_rules_and_the_pool_persists() -> None:
    messages = cluster_messages(_logs(), [], 5)
    assert "at most 5 clusters" in messages[0]["content"]
    old = [PoolCluster(id="c1", label="a"), PoolCluster(id="c2", label="b")]
    new = [ClusterRecord(id="c2", label="b2", members=["e01", "e02"]),
           ClusterRecord(id="c3", label="c", members=["e03", "e04"])]
    pool = update_pool(old, new, round_index=1, cap=10)
    assert [(c.id, c.label) for c in pool] == [("c2", "b2"), ("c3", "c"), ("c1", "a")]
    assert len(update_pool(old, new, round_index=1, cap=2)) == 2
