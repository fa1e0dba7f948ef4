"""Guardrails: truncated, over-long and training-leaking candidates are rejected with the reason logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.lineage import read_lineage, tournament

from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.guardrails import LeakChecker, check_candidate, unterminated
from clue.evolve.protocol import EvolveSettings
from clue.evolve.state import RunState
from clue.evolve.watch import RecordingReporter
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.types import Completion, Decoding, Message
from clue.memory.prompts import load_prompt

from .conftest import World, kind_of, make_pairs, make_setup

BASE = load_prompt("simple").text


def test_unterminated_text_is_detected() -> None:
    assert unterminated(BASE, BASE) is None
    assert unterminated(BASE + "\n```\nexample", BASE) == "unclosed code fence"
    assert unterminated(BASE + "\n<example>\nThe user said", BASE) == "unclosed <example> block"
    assert unterminated(BASE + "\n<example>\nok\n</example>\n", BASE) is None
    assert unterminated(BASE + "\n## Extra rules\n", BASE) is not None
    assert unterminated(BASE + "\n### Facts\n\n", BASE) is not None


def test_check_candidate_reasons() -> None:
    leaks = LeakChecker(["Yesterday I told my sister that the blue car keys are under the mat."], n=8)
    ok = BASE + "\n- Keep where objects are stored.\n"
    assert check_candidate(ok, base_text=BASE, truncated=False, max_chars=10_000, leaks=leaks) is None
    assert check_candidate(ok, base_text=BASE, truncated=True, max_chars=10_000, leaks=leaks) == (
        "truncated: the optimizer reply hit its token limit")
    assert check_candidate(ok, base_text=BASE, truncated=False, max_chars=len(BASE), leaks=leaks).startswith(
        "too long")
    leaky = BASE + "\n- Example: the blue car keys are under the mat today.\n"
    reason = check_candidate(leaky, base_text=BASE, truncated=False, max_chars=10_000, leaks=leaks)
    assert reason is not None and reason.startswith("leaks training text") and "car keys" in reason


def test_shingles_already_in_the_base_prompt_do_not_count_as_leaks() -> None:
    shared = "Each memory is one self-contained sentence that makes sense without the conversation."
    leaks = LeakChecker([f"Note: {shared}"], n=8)
    assert leaks.find(BASE + "\n- Keep dates.\n", BASE) is None
    assert leaks.find(f"Intro. {shared}", "") is not None


class LengthLimitedBackend(ScriptedBackend):
    """Marks synthesizer replies as cut at the token limit, as a real server would."""

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None) -> Completion:
        completion = await super().complete(model, messages, decoding, json_schema)
        if kind_of(self.calls[-1]) == "synthesize" and decoding.seed == 42:
            completion.finish_reason = "length"
        return completion


def _edit_for(reason: str):  # type: ignore[no-untyped-def]
    def edit(index: int, user: str) -> dict[str, Any]:
        texts = {
            "good": "- KEEP-NUMBERS and KEEP-NAMES: keep both.",
            "long": "- KEEP-NUMBERS: keep numbers. " + "Be thorough. " * 200,
            "leak": "- Example: Conversation 4: please remember that my numbers fact is N1004 for later.",
            "fence": "- KEEP-NAMES: like this:\n```\n1. the names fact is",
        }
        key = {0: reason, 1: "good", 2: "good2"}.get(index, "good")
        text = texts.get(key, f"- KEEP-NAMES: keep names ({index}).")
        return {"edits": [{"section": "## Guidelines", "operation": "append", "text": text}]}
    return edit


@pytest.mark.parametrize(("reason", "expected"), [
    ("truncated", "truncated: the optimizer reply hit its token limit"),
    ("fence", "truncated: unclosed code fence"),
    ("long", "too long"),
    ("leak", "leaks training text"),
])
async def test_a_bad_candidate_is_rejected_logged_and_never_run(tmp_path: Path, reason: str,
                                                                 expected: str) -> None:
    world = World(edit=_edit_for(reason))
    setup = make_setup(tmp_path, world)
    if reason == "truncated":
        setup.backend.__class__ = LengthLimitedBackend
    reporter = RecordingReporter()
    settings = EvolveSettings(rounds=1, batch=6, candidates=3, top=2, resample=2,
                              max_prompt_chars=len(BASE) + 600)
    await ClueOptimizer(reporter).optimize(load_prompt("simple"), make_pairs(20), setup.harness, settings,
                                           tmp_path, False)
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    rs = state.rounds[0]
    first = rs.candidates["0"]
    assert first.rejected is not None and first.rejected.startswith(expected)
    assert ("rejected", (first.name, first.rejected)) in reporter.events
    assert first.hash not in {s.prompt_hash for s in rs.tournament}  # never evaluated
    assert {c.rejected for k, c in rs.candidates.items() if k != "0"} == {None}
    entry = next(e for e in read_lineage(tmp_path).entries if e.name == first.name)
    assert entry.status == "rejected" and tournament(entry).rejected == first.rejected
    assert entry.reason == f"rejected before the tournament: {first.rejected}"


def _call(model: str) -> ScriptedCall:
    return ScriptedCall(model, [], Decoding(), None)


def test_kind_helper_tells_roles_apart() -> None:
    assert kind_of(_call("ext")) == "extract" and kind_of(_call("sol")) == "solve"


def test_a_rejected_candidate_identical_to_its_base_carries_no_scores_in_lineage() -> None:
    from clue.evolve.lineage import build_lineage
    from clue.evolve.state import CandidateRecord, PromptRecord, RoundState, RunState, ScoreRecord

    base = PromptRecord(name="simple", hash="h0", text="base text")
    state = RunState(method="clue", seed=42, pool=[], base="h0", seed_hash="h0", prompts={"h0": base})
    rs = RoundState(index=0, base_hash="h0", batch=[], candidates={"1": CandidateRecord(
        index=1, name="c1", parent="h0", text="base text", hash="h0", rejected="no change to the base prompt")},
        tournament=[ScoreRecord(prompt_hash="h0", name="simple", accuracy=0.5, tokens=10, seconds=1.0, n=2)],
        finalists=["h0"])
    state.rounds = [rs]
    (_, candidate) = build_lineage(state).entries
    assert candidate.scores == {} and not tournament(candidate).finalist and candidate.status == "rejected"
