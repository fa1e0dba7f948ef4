"""What the report derives from the run dirs: labels, the lineage tree and its verdicts, cluster members,
evolution progress and cost, on the study's real CluE run and GEPA-style lineage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.lineage import read_lineage

from clue.bench.run.record import read_runlog, write_runlog
from clue.bench.run.rollouts import read_rollouts, rollout_id
from clue.errors import BadInputError, NotFoundError
from clue.evolve.lineage import build_lineage
from clue.evolve.state import RunState
from clue.memory.prompts import prompt_hash
from clue.report.evolution_view import evolution_context, progress_of
from clue.report.html import write_report
from clue.report.lineage_view import Node, cluster_rounds, lineage_tree
from clue.report.results_view import cost_context, entries_of
from clue.report.rundata import load_run, load_runs
from clue.report.transcripts import pack_transcripts

from .conftest import GEPA_CHILD, GEPA_SEED, Study


def flatten(nodes: list[Node]) -> list[Node]:
    return [n for node in nodes for n in (node, *flatten(node.children))]


def test_runs_get_unique_readable_labels_and_evolutions_their_seed_and_best(study: Study, tmp_path: Path) -> None:
    twin = tmp_path / "simple-again"
    shutil.copytree(study.simple, twin)
    runs = load_runs([study.simple, twin, study.evolve, study.simple])
    assert [r.label for r in runs] == ["simple (simple)", "simple (simple-again)", "clue"]
    evolve = runs[2]
    assert evolve.kind == "evolve" and evolve.method == "clue"
    assert [r.prompt_name for r in evolve.results] == ["simple", "clue-r1-c3"]
    assert len(evolve.test_rollouts) == 2 * 6 and evolve.best_prompt and "KEEP-NUMBERS" in evolve.best_prompt


def test_a_folder_of_runs_stands_for_the_runs_in_it(study: Study) -> None:
    runs = load_runs([study.root])
    assert sorted(r.path.name for r in runs) == sorted(p.name for p in study.all)


def test_bad_run_dirs_are_named(study: Study, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nowhere: no such run directory"):
        load_run(tmp_path / "nowhere")
    with pytest.raises(BadInputError, match="not a directory"):
        load_run(study.simple / "log.json")
    broken = tmp_path / "broken"
    shutil.copytree(study.evolve, broken)
    (broken / "lineage.json").write_text("{not json")
    with pytest.raises(BadInputError, match=r"broken/lineage.json:1: not valid JSON"):
        load_run(broken)
    torn = tmp_path / "torn"
    shutil.copytree(study.simple, torn)
    with (torn / "rollouts.jsonl").open("a") as handle:
        handle.write('{"rollout_id": "half')
    assert load_run(torn).warnings == [f"{torn / 'rollouts.jsonl'}: 1 unreadable rollout line(s) left out"]


def test_a_run_dir_without_log_json_is_read_into_the_same_schema(study: Study, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(study.evolve, old)
    (old / "log.json").unlink()
    run = load_run(old)
    assert run.kind == "evolve" and run.method == "clue" and run.log.status == "finished"
    # Results are rebuilt from the test rollouts, one per prompt; progress from the lineage's rounds.
    assert sorted(r.prompt_name for r in run.results) == ["clue-r1-c3", "simple"]
    progress = progress_of(run)
    assert [p.round for p in progress] == [1, 2]
    lineage = read_lineage(old)
    assert progress[-1].rollouts_spent == sum(r.new_rollouts for r in lineage.rounds)
    assert progress[-1].best_hash == lineage.best_hash


def test_tournament_lineage_tree_gives_every_candidate_its_verdict(study: Study) -> None:
    run = load_run(study.evolve)
    state = RunState.model_validate_json((study.evolve / "state.json").read_text())  # the method's own record
    (root,) = lineage_tree(run)
    assert root.status == "seed" and root.hash == state.seed_hash
    nodes = {n.id: n for n in flatten([root])}
    for rs in state.rounds:
        finalists = set(rs.finalists)
        for c in rs.sorted_candidates():
            node = nodes[f"r{rs.index + 1}-{c.name}"]
            # The parent is the node of the round's base prompt.
            parent = nodes[node.parent or ""]
            assert parent.hash == rs.base_hash
            assert bool(node.diff) == (c.text is not None) and node.sources == c.sources
            if c.rejected:
                assert node.status == "rejected" and c.rejected in node.reason
            elif c.hash == rs.winner:
                assert node.status == "winner" and node.reason.startswith("won ")
            elif c.hash in finalists:
                assert node.status == "finals" and node.reason.startswith("lost the finals to")
            else:
                assert node.status == "tournament" and "finalists" in node.reason
    best = next(n for n in nodes.values() if n.hash == state.base)
    assert "the best prompt of the run" in best.notes


def test_entry_lineage_links_children_to_parents_and_keeps_raw_sums(study: Study) -> None:
    run = load_run(study.gepa)
    (root,) = lineage_tree(run)
    assert root.status == "seed"
    (child,) = root.children
    (rejected,) = child.children
    assert child.status == "best" and "the best prompt of the run" in child.notes
    assert dict(child.scores) == {"minibatch before": "1", "minibatch after": "3", "validation": "75.0%"}
    assert rejected.status == "rejected" and rejected.reason.startswith("new subsample score")
    assert "+Keep every name." in rejected.diff


def test_cluster_members_carry_the_base_prompts_outcome_and_a_transcript_link(study: Study) -> None:
    runs = load_runs([study.evolve])
    packed = pack_transcripts(runs)
    key_of = {k.split("|", 1)[1]: v for k, v in packed.keys.items()}
    rounds = cluster_rounds(runs[0], key_of)
    state = RunState.model_validate_json((study.evolve / "state.json").read_text())  # the method's own record
    rollouts = {r.rollout_id: r for r in read_rollouts(study.evolve / "rollouts.jsonl")}
    assert [r.round for r in rounds] == [1, 2]
    for view, rs in zip(rounds, state.rounds, strict=True):
        assert [c.id for c in view.clusters] == [c.id for c in rs.clusters]
        for cluster in view.clusters:
            assert cluster.analysis is not None and cluster.analysis.recommendations
            cited = {c.name for c in rs.sorted_candidates() if cluster.id in c.sources}
            assert {name for name, _ in cluster.cited_by} == cited
            for member in cluster.members:
                position = int(member.example[1:]) - 1
                rid = rollout_id(rs.base_hash, rs.batch[position], 0)
                assert member.pair_key == rs.batch[position]
                assert member.reward == rollouts[rid].reward
                assert member.outcome == ("success" if rollouts[rid].reward >= 1.0 else "failure")
                assert member.rollout is not None and member.rollout.endswith(rid)
    # Round 1's base (simple) keeps nothing: every member failed; round 2's base keeps both kinds.
    assert {m.outcome for c in rounds[0].clusters for m in c.members} == {"failure"}
    assert {m.outcome for c in rounds[1].clusters for m in c.members} == {"success"}


def test_evolution_curves_and_cost_come_from_the_run_log(study: Study) -> None:
    runs = load_runs([study.evolve, study.gepa])
    context = evolution_context(runs)
    assert context["plot_rollouts"] and context["plot_tokens"]
    clue_rows = context["runs"][0]["rounds"]
    progress = runs[0].log.evolution.progress  # type: ignore[union-attr]
    assert [r.rollouts_spent for r in clue_rows] == [p.rollouts_spent for p in progress]
    first = clue_rows[0]
    assert {line.status for line in first.lines} >= {"winner", "base"}
    assert next(line for line in first.lines if line.status == "winner").name == first.best_name
    # Per round and role: the differences of the cumulative ledger snapshots add up to the run's usage.
    per_role: dict[str, int] = {}
    for row in clue_rows:
        assert row.costs, "every round of the study records its usage"
        for c in row.costs:
            per_role[c.role] = per_role.get(c.role, 0) + c.tokens
    final = progress[-1].usage
    assert per_role == {role: int(u["prompt_tokens"] + u["completion_tokens"]) for role, u in final.items()
                        if u["calls"]}
    assert "optimizer" in per_role and "extractor" in per_role
    cost = cost_context(runs)
    total = cost["runs"][0]["total"]
    usage = runs[0].log.usage
    assert total.calls == sum(int(u["calls"]) for u in usage.values())
    assert total.tokens == sum(int(u["prompt_tokens"] + u["completion_tokens"]) for u in usage.values())


def test_gain_is_over_the_chosen_baseline_run(study: Study) -> None:
    runs = load_runs([study.simple, study.keep_numbers])
    entries = entries_of(runs, baseline=runs[1])
    assert [e.gain for e in entries] == [None, 0.0]
    assert all(e.gain_baseline == "keep-numbers" for e in entries)


def test_a_run_stopped_mid_round_shows_what_it_has(study: Study, tmp_path: Path) -> None:
    """Round 2 stopped after synthesis: its candidates exist but are unscored; nothing crashes or is invented."""
    run_dir = tmp_path / "stopped"
    shutil.copytree(study.evolve, run_dir)
    state = RunState.model_validate_json((run_dir / "state.json").read_text())
    last = state.rounds[-1]
    last.winner, last.tournament, last.finalists, last.finals = None, [], [], []
    last.done = [step for step in last.done if step not in ("tournament", "finals")]
    state.base = last.base_hash
    (run_dir / "lineage.json").write_text(build_lineage(state).model_dump_json())
    run = load_run(run_dir)
    nodes = {n.id: n for n in flatten(lineage_tree(run))}
    for c in last.sorted_candidates():
        node = nodes[f"r{last.index + 1}-{c.name}"]
        assert node.status == ("rejected" if c.rejected else "pending")
        assert node.scores == []
    assert len(cluster_rounds(run, {})) == 2
    run.log.evolution.progress = []  # type: ignore[union-attr]
    assert [p.round for p in progress_of(run)] == [1]  # only finished rounds make the curve


def test_infrastructure_failures_are_counted_not_scored(study: Study, tmp_path: Path) -> None:
    run_dir = tmp_path / "flaky"
    shutil.copytree(study.episode, run_dir)
    log = read_runlog(run_dir)
    log.results = None  # still running: results come from the samples
    write_runlog(run_dir, log)
    (first,) = read_rollouts(run_dir / "rollouts.jsonl")[:1]
    broken = first.model_copy(update={"rollout_id": first.rollout_id + "-x", "repeat": 1, "reward": 0.0,
                                      "infra_failure": True, "error": "endpoint refused the connection"})
    with (run_dir / "rollouts.jsonl").open("a") as handle:
        handle.write(broken.model_dump_json() + "\n")
    run = load_run(run_dir)
    (results,) = run.results
    (rooms,) = results.datasets
    assert rooms.failed == 1 and rooms.score == 0.5  # two of the four scored rollouts won; the failure is not a 0
    packed = pack_transcripts([run])
    assert sorted(row[5] for row in packed.index) == ["error", "failure", "failure", "success", "success"]
    html = write_report([run_dir], tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert "1 of 5 rollouts failed for infrastructure reasons" in html


def test_steps_that_change_nothing_are_notes_on_their_prompt(study: Study, tmp_path: Path) -> None:
    """ACE-style entries: one per step; a step whose edits left the prompt as it was is a note, not a node."""
    run_dir = tmp_path / "ace"
    shutil.copytree(study.gepa, run_dir)
    seed, child = prompt_hash(GEPA_SEED), prompt_hash(GEPA_CHILD)
    steps = [{"epoch": 0, "step": 0, "pair": "a:1:1", "hash": seed, "parent": seed, "pre_train_success": False,
              "retries": 2, "operations": [], "reflection": "nothing to add", "diff": "", "prompt": GEPA_SEED},
             {"epoch": 0, "step": 1, "pair": "a:2:2", "hash": child, "parent": seed, "pre_train_success": True,
              "retries": 0, "operations": ["ADD keep numbers"], "reflection": "numbers were lost",
              "diff": "+Keep every number exactly.\n", "prompt": GEPA_CHILD}]
    (run_dir / "lineage.json").write_text(json.dumps(steps))
    (run_dir / "state.json").write_text(json.dumps({"method": "ace"}))
    (root,) = lineage_tree(load_run(run_dir))
    assert root.hash == seed and root.notes == ["epoch 0, step 0, sample a:1:1: no change"]
    (node,) = root.children
    assert node.hash == child and node.status == "best"  # best_prompt.txt holds the child's text
    assert dict(node.scores) == {"retries": "0"}  # counts stay counts; booleans are not scores
    assert dict(node.details) == {"operations": ["ADD keep numbers"], "reflection": ["numbers were lost"]}
