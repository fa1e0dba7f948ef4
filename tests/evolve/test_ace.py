"""ACE as the study runs it: a structured playbook with counters under a token budget, the per-sample loop
(reflect and retry up to 3 rounds on an incorrect sample, curator every step), the extractor naming the
bullets it used, budget, resume."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.lineage import ace, read_lineage
from support.locker_world import FakeTask, locker_reply, make_pairs

from clue.bench.run.rollouts import Rollout, RolloutStore, read_rollouts
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.evolve.ace import CURATOR_SYSTEM, REFLECTOR_SYSTEM, AceOptimizer, AceState, cited_bullets
from clue.evolve.ace_playbook import CuratorOp, seed_playbook
from clue.evolve.analyze import CLUSTER_BRIEF
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings
from clue.evolve.synthesize import CLUE_SYNTHESIZER
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.extract import memory_from_reply
from clue.memory.prompts import load_prompt
from clue.memory.render import EXTRACTION_INSTRUCTION

SEED = load_prompt("simple")
RULE = "Keep EXACT CODES verbatim."
CODE = re.compile(r"W\d+")


# -- playbook -------------------------------------------------------------------------------------------

def test_the_seed_prompt_becomes_a_structured_playbook() -> None:
    simple = seed_playbook(SEED.text)
    assert [s.slug for s in simple.sections] == ["gen", "misc"]  # Simple has an empty taxonomy
    assert simple.sections[0].bullets[0].line() == \
        "[gen-00001] helpful=0 harmful=0 :: Write at most 5 memories in total."
    assert "## Role" in simple.prefix and "## Input" in simple.prefix and "Output" not in simple.prefix
    fe = seed_playbook(load_prompt("factual-experiential").text)
    assert [s.title for s in fe.sections] == ["Factual memory", "Experiential memory", "General Guidelines",
                                              "Others"]
    assert [s.slug for s in fe.sections] == ["fac", "exp", "gen", "misc"]
    assert fe.sections[0].bullets[0].id == "fac-00001" and "When to use" in fe.sections[0].bullets[0].text
    assert len(fe.sections[2].bullets) == 7


def test_curator_operations_counters_and_the_token_budget() -> None:
    book = seed_playbook(SEED.text)
    notes = book.apply([
        CuratorOp(type="ADD_MEMORY_TYPE", name="Code Memory", section="code", content="Exact identifiers.",
                  guidelines=[RULE]),
        CuratorOp(type="ADD_BULLET", section="gen", content="Prefer facts the user states."),
        CuratorOp(type="UPDATE_BULLET", bullet_id="gen-00001", content="Write at most 4 memories."),
        CuratorOp(type="DELETE_BULLET", bullet_id="gen-00009"),
        CuratorOp(type="RENAME_MEMORY_TYPE", section="code", name="Identifier Memory"),
        CuratorOp(type="DELETE_MEMORY_TYPE", section="gen")])
    assert notes == ["ADD_MEMORY_TYPE Code Memory (code) with 2 bullets", "ADD_BULLET gen-00002",
                     "UPDATE_BULLET gen-00001", "SKIP DELETE_BULLET gen-00009: no such bullet",
                     "RENAME_MEMORY_TYPE code -> Identifier Memory",
                     "SKIP DELETE_MEMORY_TYPE gen: no such memory type"]
    assert [s.slug for s in book.sections] == ["code", "gen", "misc"]  # types go before the guidelines
    assert book.tag([("code-00002", "helpful"), ("[gen-00002]", "harmful"), ("gen-00001", "neutral")]) == [
        "TAG code-00002 helpful", "TAG gen-00002 harmful"]
    assert "[code-00002] helpful=1 harmful=0 :: Keep EXACT CODES verbatim." in book.listing()
    rendered = book.render()
    assert "### Identifier Memory\n- [code-00001] Exact identifiers.\n- [code-00002] " + RULE in rendered
    assert '"bullet_ids"' in rendered and '"extracted_memory"' in rendered  # the extractor names bullets
    before = len(book.bullets)
    dropped = book.fit(book.tokens() - 5)
    assert dropped == ["BUDGET drop gen-00002"]  # the weakest (net -1) goes first
    assert len(book.bullets) == before - 1 and book.tokens() <= book.tokens() + 5


def test_the_extractor_reply_is_unpacked_and_the_bullets_it_used_are_recorded() -> None:
    memory, notes = memory_from_reply('{"reasoning": "r", "bullet_ids": ["gen-00001", "gen-00001", "x-1"], '
                                      '"extracted_memory": "1. code W4"}')
    assert memory == "1. code W4"
    rollout = Rollout(rollout_id="r", prompt_name="p", prompt_hash="h", dataset="d", subset="d", category="c",
                      ood=False, source_id=1, target_id=2, repeat=0, notes=notes)
    assert cited_bullets(rollout) == ["gen-00001", "x-1"]
    assert memory_from_reply('```json\n{"facts": ["Likes tea", " ", "Has a cat"]}\n```')[0] == \
        "1. Likes tea\n2. Has a cat"  # Mem0-style facts reach the solver as a list
    assert memory_from_reply("1. plain list") == ("1. plain list", [])


# -- the loop -------------------------------------------------------------------------------------------

class Script:
    """Extractor: keeps the code for even ids, under RULE, or when told a reflection saying "look N" with
    N >= `retry_needs`; it always names gen-00001. Reflector: "look k" on its k-th reflection of a sample,
    tags the bullets shown helpful on success, harmful on failure. Curator: `ops(call_number)`."""

    def __init__(self, retry_needs: int = 2, ops: Any = None, crash_on_curator_call: int | None = None) -> None:
        self.retry_needs = retry_needs
        self.ops = ops or (lambda n: [])
        self.crash_on_curator_call = crash_on_curator_call
        self.reflections: dict[str, int] = {}
        self.counts = {"extract": 0, "reflect": 0, "curate": 0}
        self.systems: dict[str, str] = {}

    def __call__(self, call: ScriptedCall) -> str:
        system, user = call.messages[0]["content"], call.messages[-1]["content"]
        properties = (call.json_schema or {}).get("properties", {})
        if "bullet_tags" in properties:
            self.counts["reflect"] += 1
            self.systems["reflect"] = system
            code = CODE.search(user.split("Memory written:")[0])
            key = code.group() if code else "?"
            self.reflections[key] = self.reflections.get(key, 0) + 1
            verdict = "helpful" if "Outcome: success" in user else "harmful"
            used = re.findall(r"\[(\w+-\d+)\]", user.split("Playbook bullets the extractor used:")[-1])
            return json.dumps({"input_summary": "a user mentions a code", "diagnosis": f"look {self.reflections[key]}",
                               "key_insight": "codes matter", "bullet_tags": [{"id": b, "tag": verdict} for b in used]})
        if "operations" in properties:
            self.counts["curate"] += 1
            self.systems["curate"] = system
            if self.counts["curate"] == self.crash_on_curator_call:
                raise RuntimeError("injected crash")
            return json.dumps({"reasoning": "r", "operations": self.ops(self.counts["curate"])})
        if user.startswith(EXTRACTION_INSTRUCTION) and "## Playbook" in system:
            self.counts["extract"] += 1
            code = CODE.search(user)
            assert code is not None
            looks = [int(n) for n in re.findall(r"look (\d+)", system)]
            keep = "EXACT CODES" in system or int(code.group()[1:]) % 2 == 0 or \
                (looks and max(looks) >= self.retry_needs)
            memory = f"1. The user's locker code is {code.group()}." if keep else "1. The user likes tea."
            return json.dumps({"reasoning": "r", "bullet_ids": ["gen-00001"], "extracted_memory": memory})
        reply = locker_reply(system, user)
        assert reply is not None, system[:80]
        return reply


def make_harness(tmp_path: Path, budget: Budget, script: Script, computed: list[str] | None = None) -> Harness:
    llm = LLM(load_settings(env={}), backend=ScriptedBackend(script), cache=None)

    def on_rollout(rollout: Rollout, already_done: bool) -> None:
        if computed is not None and not already_done:
            computed.append(rollout.rollout_id)

    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False),
                    on_rollout=on_rollout)
    return Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(budget, llm.ledger))


async def test_an_incorrect_sample_is_reflected_on_and_retried_until_it_succeeds(tmp_path: Path) -> None:
    script = Script(retry_needs=2)
    harness = make_harness(tmp_path, Budget(), script)
    result = await AceOptimizer().optimize(SEED, make_pairs(2), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)
    assert result.stopped_by == "finished"
    lineage = read_lineage(tmp_path / "run")
    assert lineage.method == "ace" and lineage.seed_hash == SEED.hash
    by_pair = {int(str(e.origin.sample).split(":")[1]): ace(e) for e in lineage.entries}
    assert by_pair[0].pre_train_success and by_pair[0].retries == 0  # correct: one reflection, no retry
    assert not by_pair[1].pre_train_success and by_pair[1].retries == 2 and by_pair[1].retry_success
    assert script.counts == {"extract": 4, "reflect": 3, "curate": 2}  # curator every sample
    # The reflector saw the bullets the extractor named; its tags moved the counters (1 success, 2 failures).
    state = AceState.model_validate_json((tmp_path / "run" / "state.json").read_text())
    bullet = state.playbook.sections[0].bullets[0]
    assert (bullet.id, bullet.helpful, bullet.harmful) == ("gen-00001", 1, 2)
    # The retry's reflection went to the extractor, without the source summary.
    retries = [r for r in read_rollouts(tmp_path / "rollouts.jsonl") if r.source_id == 1]
    assert len(retries) == 3 and all(cited_bullets(r) == ["gen-00001"] for r in retries)


async def test_reflection_stops_after_three_rounds(tmp_path: Path) -> None:
    script = Script(retry_needs=99)
    harness = make_harness(tmp_path, Budget(), script)
    await AceOptimizer().optimize(SEED, [make_pairs(2)[1]], harness, EvolveSettings(), tmp_path / "run",
                                  resume=False)
    assert script.counts["reflect"] == 3 and script.counts["extract"] == 1 + 3
    entry = ace(read_lineage(tmp_path / "run").entries[0])
    assert entry.retries == 3 and not entry.retry_success and entry.post_train_success is False


async def test_the_curator_grows_the_playbook_every_step(tmp_path: Path) -> None:
    def ops(n: int) -> list[dict[str, Any]]:
        if n == 1:
            return [{"type": "ADD_MEMORY_TYPE", "name": "Code Memory", "section": "code",
                     "content": "Exact identifiers the user gives.", "guidelines": [RULE]}]
        return []

    script = Script(retry_needs=99, ops=ops)
    harness = make_harness(tmp_path, Budget(), script)
    result = await AceOptimizer().optimize(SEED, make_pairs(6), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)
    assert script.counts["curate"] == 6
    assert f"### Code Memory\n- [code-00001] Exact identifiers the user gives.\n- [code-00002] {RULE}" \
        in result.best.text
    entries = read_lineage(tmp_path / "run").entries
    assert ace(entries[0]).operations[-1] == "ADD_MEMORY_TYPE Code Memory (code) with 2 bullets"
    assert all(ace(e).post_train_success for e in entries)  # every sample passes under the curated playbook
    assert entries[0].status == "accepted" and "+- [code-00001]" in entries[0].diff
    assert entries[1].parents == [entries[0].hash]  # each step's parent is the playbook the step before left
    assert (tmp_path / "run" / "best_prompt.txt").read_text() == result.best.text
    state = AceState.model_validate_json((tmp_path / "run" / "state.json").read_text())
    assert state.status == "done" and state.epoch == 1 and state.cursor == 0
    progress = harness.recorder_for(tmp_path / "run").progress  # what the run record keeps
    assert [p.round for p in progress] == [1, 2, 3, 4, 5, 6]  # one point per sample
    assert progress[-1].best_hash == result.best.hash
    assert progress[-1].rollouts_spent == harness.meter.rollouts_spent

    every_other = Script(retry_needs=99)
    harness2 = make_harness(tmp_path / "two", Budget(), every_other)
    await AceOptimizer().optimize(SEED, make_pairs(6), harness2, EvolveSettings(ace_curator_every=2),
                                  tmp_path / "two" / "run", resume=False)
    assert every_other.counts["curate"] == 3


async def test_ace_prompts_are_its_own_and_the_curator_is_told_the_budget(tmp_path: Path) -> None:
    calls: list[ScriptedCall] = []
    script = Script()

    def spy(call: ScriptedCall) -> str:
        calls.append(call)
        return script(call)

    llm = LLM(load_settings(env={}), backend=ScriptedBackend(spy), cache=None)
    runner = Runner(llm, tasks=lambda ds: FakeTask(), info=lambda ds: ("personalization", False))
    harness = Harness(runner, RolloutStore(tmp_path / "rollouts.jsonl"), BudgetMeter(Budget(), llm.ledger))
    await AceOptimizer().optimize(SEED, make_pairs(1), harness, EvolveSettings(ace_token_budget=900),
                                  tmp_path / "run", resume=False)
    systems = {c.messages[0]["content"] for c in calls}
    assert REFLECTOR_SYSTEM in systems and CURATOR_SYSTEM in systems
    assert not any(CLUSTER_BRIEF.role in s or CLUE_SYNTHESIZER in s for s in systems)
    curator = next(c for c in calls if c.messages[0]["content"] == CURATOR_SYSTEM)
    assert curator.messages[1]["content"].startswith("Token budget: 900 tokens. Sample 1 of 1.")
    assert "[gen-00001] helpful=1 harmful=0 :: Write at most 5 memories in total." in curator.messages[1]["content"]
    extractor = next(c for c in calls if c.messages[-1]["content"].startswith(EXTRACTION_INSTRUCTION))
    assert extractor.messages[0]["content"] != SEED.text and "- [gen-00001] " in extractor.messages[0]["content"]


async def test_rollout_budget_stops_between_samples_and_resume_redoes_nothing(tmp_path: Path) -> None:
    computed: list[str] = []
    crashing = make_harness(tmp_path, Budget(), Script(crash_on_curator_call=2), computed)
    with pytest.raises(RuntimeError, match="injected crash"):
        await AceOptimizer().optimize(SEED, make_pairs(4), crashing, EvolveSettings(), tmp_path / "run",
                                      resume=False)
    crashing.store.close()
    assert AceState.model_validate_json((tmp_path / "run" / "state.json").read_text()).cursor == 1
    resumed = make_harness(tmp_path, Budget(), Script(), computed)
    result = await AceOptimizer().optimize(SEED, make_pairs(4), resumed, EvolveSettings(), tmp_path / "run",
                                           resume=True)
    assert result.stopped_by == "finished"
    assert len(computed) == len(set(computed))  # no rollout computed twice across the crash
    assert resumed.reused_rollouts >= 1
    assert [e.origin.step for e in read_lineage(tmp_path / "run").entries] == [0, 1, 2, 3]

    tight = make_harness(tmp_path / "b", Budget(max_rollouts=2), Script(retry_needs=99))
    stopped = await AceOptimizer().optimize(SEED, make_pairs(4), tight, EvolveSettings(), tmp_path / "b" / "run",
                                            resume=False)
    assert stopped.stopped_by.startswith("budget: rollout budget") and tight.meter.rollouts_spent <= 2
    state = AceState.model_validate_json((tmp_path / "b" / "run" / "state.json").read_text())
    entries = read_lineage(tmp_path / "b" / "run").entries
    assert state.status == "running" and len(entries) == state.cursor == state.samples_done < 4  # whole samples


async def test_curator_edits_that_copy_training_text_are_skipped(tmp_path: Path) -> None:
    leak = [{"type": "ADD_BULLET", "section": "gen", "content": "Remember: my locker code is W3. I like tea."},
            {"type": "ADD_BULLET", "section": "gen", "content": RULE}]
    harness = make_harness(tmp_path, Budget(), Script(ops=lambda n: leak if n == 1 else []))
    result = await AceOptimizer().optimize(SEED, make_pairs(5), harness, EvolveSettings(), tmp_path / "run",
                                           resume=False)
    assert "locker code is W3" not in result.best.text and RULE in result.best.text
    first = ace(read_lineage(tmp_path / "run").entries[0])
    assert any(op.startswith("SKIP ADD_BULLET: leaks training text") for op in first.operations)


async def test_resuming_a_run_of_another_shape_is_refused_in_one_line(tmp_path: Path) -> None:
    from clue.errors import BadInputError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "state.json").write_text(json.dumps({"method": "ace", "cursor": 2, "playbook": {"bullets": []}}))
    harness = make_harness(tmp_path, Budget(), Script())
    with pytest.raises(BadInputError, match="not a run of this ACE"):
        await AceOptimizer().optimize(SEED, make_pairs(2), harness, EvolveSettings(), run_dir, resume=True)
