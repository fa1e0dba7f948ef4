"""ACE: playbook deltas, counters and pruning; the generator/reflector/curator loop; budget; resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.locker_world import FakeTask, locker_reply, make_pairs

from clue.bench.rollouts import Rollout, RolloutStore, read_rollouts
from clue.bench.runner import Runner
from clue.config import load_settings
from clue.evolve.ace import AceOptimizer, AceState
from clue.evolve.ace_playbook import Bullet, DeltaOperation, Playbook, counter_operations
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt

SEED = ExtractionPrompt("seed", "Write at most 5 memories as a numbered list.")
RULE = "Keep EXACT CODES verbatim."
CODE = re.compile(r"W\d+")


# -- playbook -------------------------------------------------------------------------------------------

def test_delta_operations_apply_deterministically() -> None:
    book = Playbook()
    done = book.apply([DeltaOperation("ADD", text="Keep dates."), DeltaOperation("ADD", text="keep dates"),
                       DeltaOperation("ADD", text="Name the user's goals."), DeltaOperation("ADD", text="  ")])
    assert done == ["ADD b1: Keep dates.", "ADD b2: Name the user's goals."]  # duplicate and blank skipped
    done = book.apply([DeltaOperation("UPDATE", "b1", text="Keep exact dates."),
                       DeltaOperation("UPDATE", "[b2]", helpful_delta=2, harmful_delta=1),
                       DeltaOperation("UPDATE", "b9", text="unknown id"), DeltaOperation("REMOVE", "b7")])
    assert done == ["UPDATE b1: text", "UPDATE b2: helpful+2 harmful+1"]
    assert book.get("b1") == Bullet(id="b1", text="Keep exact dates.")
    assert book.apply([DeltaOperation("REMOVE", "b1")]) == ["REMOVE b1"]
    assert book.apply([DeltaOperation("ADD", text="New rule.")]) == ["ADD b3: New rule."]  # ids never reused


def test_counter_tags_become_one_update_per_bullet_and_verdict() -> None:
    ops = counter_operations([("b1", "helpful"), ("b1", "helpful"), ("[b2]", "harmful"), ("b3", "neutral")])
    assert ops == [DeltaOperation("UPDATE", "b1", helpful_delta=1), DeltaOperation("UPDATE", "b2", harmful_delta=1)]


def test_prune_drops_harmful_bullets_and_caps_by_net_score() -> None:
    book = Playbook(bullets=[Bullet(id="b1", text="a", helpful=0, harmful=2),  # harmful > helpful + 1
                             Bullet(id="b2", text="b", helpful=1, harmful=2),  # not yet
                             Bullet(id="b3", text="c", helpful=3), Bullet(id="b4", text="d"),
                             Bullet(id="b5", text="e")], next_id=6)
    removed = book.prune(max_bullets=3)
    assert [b.id for b in book.bullets] == ["b3", "b4", "b5"]
    assert removed == ["PRUNE b1 (helpful=0, harmful=2)", "PRUNE b2 (helpful=1, harmful=2)"]
    book.apply([DeltaOperation("ADD", text="f")])
    book.prune(max_bullets=3)  # b4 and b6 tie at 0; the older goes
    assert [b.id for b in book.bullets] == ["b3", "b5", "b6"]


def test_render_keeps_the_seed_while_empty_and_lists_counters() -> None:
    book = Playbook()
    assert book.render(SEED.text) == SEED.text
    book.apply([DeltaOperation("ADD", text=RULE), DeltaOperation("UPDATE", "b1", helpful_delta=2)])
    rendered = book.render(SEED.text)
    assert rendered.startswith(SEED.text + "\n\n## Playbook\n")
    assert f"- [b1] {RULE} (helpful=2, harmful=0)" in rendered


# -- the loop -------------------------------------------------------------------------------------------

class Script:
    """Extractor keeps codes for even ids or under the rule; reflector credits b1; curator adds the rule."""

    def __init__(self, crash_on_curator_call: int | None = None) -> None:
        self.curator_calls = 0
        self.crash_on_curator_call = crash_on_curator_call

    def __call__(self, call: ScriptedCall) -> str:
        system, user = call.messages[0]["content"], call.messages[-1]["content"]
        properties = (call.json_schema or {}).get("properties", {})
        if "bullet_tags" in properties:
            tags = [{"bullet_id": "b1", "verdict": "helpful"}] if "[b1]" in user else []
            return json.dumps({"bullet_tags": tags, "insights": ["Codes were lost when not copied exactly."]})
        if "operations" in properties:
            self.curator_calls += 1
            if self.curator_calls == self.crash_on_curator_call:
                raise RuntimeError("injected crash")
            ops = [{"op": "add", "text": RULE}] if "(empty)" in user else []
            return json.dumps({"operations": ops})
        reply = locker_reply(system, user)
        assert reply is not None
        return reply


def make_harness(tmp_path: Path, budget: Budget, script: Script,
                 computed: list[str] | None = None) -> Harness:
    llm = LLM(load_settings(env={}), backend=ScriptedBackend(script), cache=None)

    def on_rollout(rollout: Rollout, already_done: bool) -> None:
        if computed is not None and not already_done:
            computed.append(rollout.rollout_id)

    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False),
                    on_rollout=on_rollout)
    return Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(budget, llm.ledger))


async def test_one_epoch_builds_a_playbook_from_the_rollouts(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, Budget(), Script())
    result = await AceOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)

    assert result.stopped_by == "finished"
    # Step 1 adds the rule; steps 2-4 run with it and the reflector credits it each time.
    assert f"- [b1] {RULE} (helpful=3, harmful=0)" in result.best.text
    assert (tmp_path / "run" / "best_prompt.txt").read_text() == result.best.text
    assert len(read_rollouts(tmp_path / "rollouts.jsonl")) == harness.meter.rollouts_spent == 20  # one epoch
    lineage = json.loads((tmp_path / "run" / "lineage.json").read_text())
    assert [e["step"] for e in lineage] == [0, 1, 2, 3]
    assert lineage[0]["parent"] == SEED.hash and f"+- [b1] {RULE} (helpful=0, harmful=0)" in lineage[0]["diff"]
    assert lineage[0]["generator_accuracy"] < 1.0 and lineage[1]["generator_accuracy"] == 1.0
    state = AceState.model_validate_json((tmp_path / "run" / "state.json").read_text())
    assert state.status == "done" and state.epoch == 1 and state.playbook.bullets[0].helpful == 3


async def test_rollout_budget_stops_between_steps(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, Budget(max_rollouts=12), Script())
    result = await AceOptimizer().optimize(SEED, make_pairs(20), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)

    assert result.stopped_by.startswith("budget")
    assert harness.meter.rollouts_spent == 10  # the third minibatch of 5 did not fit and never started
    assert RULE in result.best.text
    state = AceState.model_validate_json((tmp_path / "run" / "state.json").read_text())
    assert state.status == "running" and state.cursor == 2


async def test_resume_after_crash_computes_no_rollout_twice(tmp_path: Path) -> None:
    computed: list[str] = []
    crashing = make_harness(tmp_path, Budget(), Script(crash_on_curator_call=3), computed)
    with pytest.raises(RuntimeError, match="injected crash"):
        await AceOptimizer().optimize(SEED, make_pairs(20), crashing, EvolveSettings(), tmp_path / "run",
                                      resume=False)
    crashing.store.close()
    assert len(computed) == 15  # the third generator pass finished before the curator crashed
    assert AceState.model_validate_json((tmp_path / "run" / "state.json").read_text()).cursor == 2

    resumed = make_harness(tmp_path, Budget(), Script(), computed)  # fresh objects, same run dir and store
    result = await AceOptimizer().optimize(SEED, make_pairs(20), resumed, EvolveSettings(), tmp_path / "run",
                                           resume=True)

    assert result.stopped_by == "finished"
    assert len(computed) == len(set(computed)) == 20
    assert resumed.reused_rollouts == 5 and resumed.new_rollouts == 5
    stored = read_rollouts(tmp_path / "rollouts.jsonl")
    assert len(stored) == len({r.rollout_id for r in stored}) == 20
    lineage = json.loads((tmp_path / "run" / "lineage.json").read_text())
    assert [e["step"] for e in lineage] == [0, 1, 2, 3]
    assert f"- [b1] {RULE} (helpful=3, harmful=0)" in result.best.text


async def test_resume_of_a_finished_run_does_nothing(tmp_path: Path) -> None:
    first = make_harness(tmp_path, Budget(), Script())
    done = await AceOptimizer().optimize(SEED, make_pairs(10), first, EvolveSettings(), tmp_path / "run",
                                         resume=False)
    first.store.close()
    script = Script()
    again = make_harness(tmp_path, Budget(), script)
    result = await AceOptimizer().optimize(SEED, make_pairs(10), again, EvolveSettings(), tmp_path / "run",
                                           resume=True)
    assert result.best == done.best and again.new_rollouts == 0 and script.curator_calls == 0


async def test_token_budget_stops_before_reflection_and_resume_continues(tmp_path: Path) -> None:
    script = Script()
    tight = make_harness(tmp_path, Budget(max_tokens=1), script)
    result = await AceOptimizer().optimize(SEED, make_pairs(10), tight, EvolveSettings(), tmp_path / "run",
                                           resume=False)
    tight.store.close()
    assert result.stopped_by == "budget: token budget spent before reflection"
    assert tight.new_rollouts == 5 and script.curator_calls == 0 and result.best == SEED

    roomy = make_harness(tmp_path, Budget(), Script())
    result = await AceOptimizer().optimize(SEED, make_pairs(10), roomy, EvolveSettings(), tmp_path / "run",
                                           resume=True)
    assert result.stopped_by == "finished"
    assert roomy.reused_rollouts == 5 and roomy.new_rollouts == 5


async def test_curator_edits_that_copy_training_text_are_skipped(tmp_path: Path) -> None:
    class Leaky(Script):
        def __call__(self, call: ScriptedCall) -> str:
            if "operations" in (call.json_schema or {}).get("properties", {}):
                return json.dumps({"operations": [{"op": "ADD", "text": "Remember: my locker code is W3. I like tea."},
                                                  {"op": "ADD", "text": RULE}]})
            return super().__call__(call)

    harness = make_harness(tmp_path, Budget(), Leaky())
    result = await AceOptimizer().optimize(SEED, make_pairs(5), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)
    assert "locker code is W3" not in result.best.text and RULE in result.best.text
    lineage = json.loads((tmp_path / "run" / "lineage.json").read_text())
    assert lineage[0]["operations"][0].startswith("SKIP ADD: leaks training text")
