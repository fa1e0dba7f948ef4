"""CluE end to end on the scripted world: steps, persistence, lineage, analysis tools and fallback,
run_evolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.lineage import read_lineage, tournament

from clue.bench.data.records import Turn
from clue.bench.run.recorder import RunDirError
from clue.bench.run.rollouts import read_rollouts
from clue.bench.run.runner import Runner
from clue.errors import BadInputError
from clue.evolve.analyze import Group, analyze_group, overview_page
from clue.evolve.budget import Budget
from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import METHODS, EvolutionJob, load_optimizer, run_evolution
from clue.evolve.state import RunState
from clue.evolve.summarize import ExampleLog
from clue.evolve.synthesize import Edit, apply_edits
from clue.evolve.tournament import TournamentOptimizer
from clue.evolve.watch import RecordingReporter, RichReporter
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

from .conftest import World, fake_info, fake_tasks, kind_of, make_pairs, make_setup, settings

SMALL = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)


async def test_two_rounds_improve_the_prompt_and_record_everything(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    reporter = RecordingReporter()
    seed = load_prompt("simple")
    result = await ClueOptimizer(reporter).optimize(seed, make_pairs(30), setup.harness, SMALL, tmp_path,
                                                    False)
    assert result.stopped_by == "finished"
    assert "KEEP-NUMBERS and KEEP-NAMES" in result.best.text  # the candidate that keeps both kinds won
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    assert state.finished and state.completed_rounds == 2 and state.step == "finished"
    assert state.cursor == 24  # two rounds, each advancing by 2 x batch
    assert state.budget["rollouts_spent"] == len(read_rollouts(tmp_path / "rollouts.jsonl"))
    assert [rs.done for rs in state.rounds] == [
        ["baseline", "summarize", "cluster", "analyze", "synthesize", "tournament", "finals"]] * 2
    # One summary per example, one clustering call per round, one synthesis per candidate.
    assert (world.counts["summarize"], world.counts["cluster"], world.counts["synthesize"]) == (12, 2, 6)
    # The pool persists: round 2's clusterer saw round 1's clusters and the ids were reused or extended.
    cluster_calls = [c for c in setup.backend.calls if kind_of(c) == "cluster"]
    assert "(none yet)" in cluster_calls[0].messages[1]["content"]
    second_user = cluster_calls[1].messages[1]["content"]
    assert all(f"- {c.id}: {c.label}." in second_user for c in state.rounds[0].clusters)
    assert all("toyalpha" not in c.messages[1]["content"] for c in cluster_calls)
    assert len(state.cluster_pool) >= 2
    # Reporter: one report per round, with cluster sizes, candidate scores and the winner.
    assert [r.round for r in reporter.rounds] == [1, 2]
    first = reporter.rounds[0]
    assert sum(size for _, size in first.clusters) == 6
    assert first.winner == state.prompts[state.rounds[0].winner or ""].name
    assert len(first.candidates) == 4 and first.candidates[0].base
    # Lineage: clusters -> analyses -> recommendations -> candidates with diffs -> scores.
    lineage = read_lineage(tmp_path)
    r1 = lineage.rounds[0]
    assert r1.clusters and r1.analyses and all(a.recommendations for a in r1.analyses)
    assert all(a.mode == "tools" for a in r1.analyses)
    first = next(e for e in lineage.entries if e.id == "r1-clue-r1-c1")
    assert first.parents == [r1.base_hash] and tournament(first).sources
    diff = first.diff
    assert diff.startswith("--- simple\n+++ clue-r1-c1\n") and "+- KEEP-NUMBERS" in diff
    assert sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")) == 1
    assert "tournament" in first.scores and r1.tournament and r1.winner_hash
    assert first.status in ("winner", "finals", "tournament") and first.reason
    assert (tmp_path / "best_prompt.txt").read_text() == result.best.text
    assert [p.round for p in setup.harness.recorder_for(tmp_path).progress] == [1, 2]


async def test_summaries_never_carry_dataset_names(tmp_path: Path) -> None:
    class Leaky(World):
        def __call__(self, call: ScriptedCall) -> str:
            if "summary" in (call.json_schema or {}).get("properties", {}):
                self.counts["summarize"] += 1
                return json.dumps({"summary": "A toyalpha item: keep numbers exactly, from the TOYBETA set."})
            return super().__call__(call)

    setup = make_setup(tmp_path, Leaky())
    settings_one = EvolveSettings(rounds=1, batch=6, candidates=1, top=1, resample=0)
    await ClueOptimizer().optimize(load_prompt("simple"), make_pairs(12), setup.harness, settings_one,
                                   tmp_path, False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    assert all("toy" not in s.lower() for s in state.rounds[0].summaries.values())


def _group() -> Group:
    from clue.bench.run.rollouts import Rollout

    logs = []
    for i, pair in enumerate(make_pairs(12)):
        rollout = Rollout(rollout_id=str(i), prompt_name="p", prompt_hash="h", dataset=pair.dataset,
                          subset=pair.subset, category="c", ood=False, source_id=pair.source_id,
                          target_id=pair.target_id, repeat=0, memory=f"1. memory {i}", reward=float(i % 2))
        logs.append(ExampleLog(f"e{i + 1:02d}", pair, rollout, f"task {i}", f"scenario {i}"))
    return Group("c1", "numbers scenario", "keeping numbers", logs)


def test_overview_pages_list_one_line_per_example() -> None:
    page = overview_page(_group(), 2, 5)
    assert page.startswith("Overview page 2 of 3:")
    assert page.count("\n") == 5 and "e06 | success | scenario 5 | memory: 1. memory 5" in page


PROMPT = load_prompt("factual-experiential")


async def test_the_analyst_sees_the_prompt_and_opens_full_cases_through_tools() -> None:
    world = World()
    backend = ScriptedBackend(world)
    llm = LLM(settings(), backend=backend, cache=None)
    group = _group()
    long_source = "start-of-source " + "filler words " * 600 + " end-of-source"
    group.logs[0] = ExampleLog("e01", group.logs[0].pair.model_copy(update={"source_messages": [
        Turn(role="user", content=long_source)]}), group.logs[0].rollout, "task 0", "scenario 0")
    record = await analyze_group(llm, group, PROMPT, EvolveSettings())
    assert record.mode == "tools" and record.steps == 3 and 3 <= len(record.recommendations) <= 5
    transcript = backend.calls[-1].messages
    assert PROMPT.text.strip() in transcript[0]["content"]  # the prompt under analysis is in its context
    assert "at most 20 turns" in transcript[0]["content"]  # the reference's step cap by default
    assert transcript[3]["content"].startswith("Overview page 1 of 2")
    case = transcript[5]["content"]  # the full case tool: source, memory, target query, solver, outcome
    assert case.startswith("Example e01. Outcome: failure (reward 0)")
    assert long_source.strip() in case and "characters cut" not in case
    assert all(part in case for part in ("Memory written:\n1. memory 0", "Target query:\ntask 0", "Solver:"))
    assert "Gold answer" not in case and "N1000" not in case  # the policy hides the gold answer


async def test_the_analyst_runs_up_to_twenty_tool_steps_by_default() -> None:
    calls: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        calls.append(call)
        if "action" in (call.json_schema or {}).get("properties", {}):
            return json.dumps({"action": "case", "id": f"e{len(calls) % 12 + 1:02d}"})
        return json.dumps({"success_analysis": "ok", "failure_analysis": "bad",
                           "recommendations": [f"keep detail {c}" for c in "abc"]})

    llm = LLM(settings(), backend=ScriptedBackend(responder), cache=None)
    record = await analyze_group(llm, _group(), PROMPT, EvolveSettings())
    assert len(calls) == 20 and record.steps == 20 and record.notes == ["step cap reached after 19 tool calls"]


@pytest.mark.parametrize("how", ["garbage", "config"])
async def test_analysis_falls_back_to_logs_in_context(how: str) -> None:
    calls: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        calls.append(call)
        props = (call.json_schema or {}).get("properties", {})
        if "action" in props:
            return "I think we should look" if how == "garbage" else json.dumps({"action": "overview"})
        return json.dumps({"success_analysis": "ok", "failure_analysis": "bad",
                           "recommendations": ["keep exact values", "keep the user's wording", "Keep exact values",
                                               "The task,"]})

    llm = LLM(settings(), backend=ScriptedBackend(responder), cache=None)
    mode: dict[str, Any] = {"analysis_mode": "context"} if how == "config" else {}
    record = await analyze_group(llm, _group(), PROMPT, EvolveSettings(analysis_context_chars=3000, **mode))
    assert record.mode == "context"
    assert record.recommendations == ["keep exact values", "keep the user's wording"]  # fragments, repeats out
    last = calls[-1].messages[1]["content"]
    assert "Overview:" in last and len(last) <= 3200  # truncated to the budget
    assert PROMPT.text.strip() in calls[-1].messages[0]["content"]
    if how == "config":
        assert len(calls) == 1


@pytest.mark.parametrize("final", ["never", "bare"])
async def test_the_analysis_is_asked_for_at_the_step_cap_or_after_a_bare_final(final: str) -> None:
    calls: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        calls.append(call)
        if "action" in (call.json_schema or {}).get("properties", {}):
            return json.dumps({"action": "final" if final == "bare" else "case", "id": "e02"})
        return json.dumps({"success_analysis": "ok", "failure_analysis": "bad",
                           "recommendations": [f"keep detail {c}" for c in "abcdef"] + ["The task,"]})

    llm = LLM(settings(), backend=ScriptedBackend(responder), cache=None)
    record = await analyze_group(llm, _group(), PROMPT, EvolveSettings(analysis_steps=4))
    assert record.mode == "tools" and record.recommendations == [f"keep detail {c}" for c in "abcde"]
    assert len(calls) == (2 if final == "bare" else 4)
    last = calls[-1]
    assert last.json_schema is not None and last.json_schema["required"] == [
        "success_analysis", "failure_analysis", "recommendations"]
    assert last.messages[-1]["content"].startswith("Now write your report")
    if final == "never":
        assert record.notes == ["step cap reached after 3 tool calls"]
        assert last.messages[3]["content"].startswith("Example e02")


def test_edits_are_targeted_and_applied_deterministically() -> None:
    base = load_prompt("simple").text
    edits = [Edit(section="## Memory types", operation="replace", text="### Fact\n- keep exact values"),
             Edit(section="guidelines", operation="append", text="- Prefer facts over chatter.")]
    first, notes = apply_edits(base, edits)
    assert apply_edits(base, edits)[0] == first
    assert notes == ["replaced ## Memory types", "appended to ## Guidelines"]
    assert "No memory types are defined yet." not in first and "### Fact" in first
    assert first.index("- Prefer facts over chatter.") < first.index("## Output format")
    assert apply_edits(base, [])[0] == base


def test_registry_names_all_four_methods() -> None:
    assert set(METHODS) == {"clue", "memevolve", "gepa", "ace"}
    assert isinstance(load_optimizer("clue"), TournamentOptimizer)
    with pytest.raises(BadInputError, match="--method nope: unknown"):
        load_optimizer("nope")


async def test_run_evolution_evolves_then_compares_seed_and_best_on_test(tmp_path: Path) -> None:
    llm = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    reporter = RichReporter()
    job = EvolutionJob("clue", load_prompt("simple"), make_pairs(30), make_pairs(8, start=100), SMALL,
                       Budget(max_rollouts=500), tmp_path / "run")
    outcome = await run_evolution(job, llm, runner=Runner(llm, tasks=fake_tasks, info=fake_info), reporter=reporter)
    assert outcome.seed is not None and outcome.best is not None
    assert outcome.seed.id_macro == 0.0 and outcome.best.id_macro == 1.0
    assert outcome.best.gain_baseline == "simple"
    assert (tmp_path / "run" / "best_prompt.txt").read_text() == outcome.optimization.best.text
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["budget"]["rollouts_spent"] == outcome.budget["rollouts_spent"] <= 500
    assert len(read_rollouts(tmp_path / "run" / "test_rollouts.jsonl")) == 16
    with pytest.raises(RunDirError, match="already holds a run"):
        await run_evolution(EvolutionJob("clue", load_prompt("simple"), make_pairs(30), [], SMALL, Budget(),
                                         tmp_path / "run"), llm, runner=Runner(llm, tasks=fake_tasks, info=fake_info))
