from __future__ import annotations

from pathlib import Path

import pytest

from clue.config import load_settings
from clue.errors import BadInputError
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.extract import extract_memory
from clue.memory.inject import solver_system_prompt
from clue.memory.prompts import BUILTIN_PROMPTS, NO_MEMORY, load_prompt
from clue.memory.render import render_conversation


def test_render_tags_each_turn_with_its_role_inside_a_conversation_tag() -> None:
    text = render_conversation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert text.startswith("<conversation>") and text.endswith("</conversation>")
    assert "<user>hi</user>" in text and "<assistant>hello</assistant>" in text


def test_every_builtin_prompt_loads_with_the_reference_bound_on_memories() -> None:
    bounds = {"simple": "at most 5 memories", "survey": "at most 5 memories", "openmemory-style": "at most 5 memories",
              "success-failure": "at most 5 memories", "factual-experiential": "at most 5 memories",
              "reasoningbank-style": "at most 3 insights", "mem0-style": None}  # Mem0 keeps every fact
    hashes = set()
    for name in BUILTIN_PROMPTS:
        prompt = load_prompt(name)
        assert prompt.text.strip() and not prompt.is_control
        bound = bounds[name]
        if bound is None:
            assert "at most" not in prompt.text.lower() and '"facts"' in prompt.text
        else:
            assert bound in prompt.text.lower(), name
        hashes.add(prompt.hash)
    assert len(hashes) == len(BUILTIN_PROMPTS)


def test_simple_and_survey_add_no_rules_beyond_the_reference() -> None:
    for name in ("simple", "survey"):
        guidelines = load_prompt(name).text.split("## Guidelines")[1].split("## Output format")[0]
        assert guidelines.strip() == "- Write at most 5 memories in total.", name
    assert "self-contained" not in load_prompt("simple").text.lower()
    assert "exact" not in load_prompt("survey").text.lower()
    assert "No memory types are defined yet." in load_prompt("simple").text


def test_simple_prompt_has_an_empty_taxonomy_section_for_evolution_to_fill() -> None:
    text = load_prompt("simple").text
    assert "## Memory types" in text and "at most 5" in text.lower()


def test_prompt_from_file_and_unknown_prompt(tmp_path: Path) -> None:
    path = tmp_path / "mine.md"
    path.write_text("Keep what matters.")
    assert load_prompt(str(path)).text == "Keep what matters."
    with pytest.raises(BadInputError, match="unknown prompt"):
        load_prompt("no-such-prompt")


def test_injection_adds_a_memory_block_only_when_there_is_memory() -> None:
    assert "<memory>" not in solver_system_prompt(None)
    assert "<memory>" not in solver_system_prompt("   ")
    with_memory = solver_system_prompt("1. The user is vegan.")
    assert "1. The user is vegan." in with_memory and "ignore" in with_memory.lower()


async def test_no_memory_control_makes_no_call_and_extraction_sends_prompt_as_system() -> None:
    calls: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        calls.append(call)
        return "<think>hmm</think>1. likes tea"

    llm = LLM(load_settings(env={}), backend=ScriptedBackend(responder), cache=None)
    turns = [{"role": "user", "content": "I like tea."}]
    assert (await extract_memory(llm, load_prompt(NO_MEMORY), turns)).memory == ""
    assert calls == []
    result = await extract_memory(llm, load_prompt("simple"), turns)
    assert result.memory == "1. likes tea"
    assert calls[0].messages[0]["content"] == load_prompt("simple").text
    assert "<conversation>" in calls[0].messages[1]["content"]


async def test_long_source_is_cut_in_the_middle_and_the_cut_is_recorded() -> None:
    llm = LLM(load_settings(env={}), backend=ScriptedBackend(context_size=600), cache=None)
    long_turn = "head " + "filler " * 2000 + " tail"
    result = await extract_memory(llm, load_prompt("simple"), [{"role": "user", "content": long_turn}])
    assert any("cut in the middle" in note for note in result.notes)


async def test_a_reply_cut_inside_think_is_kept_whole_as_the_memory_unless_asked_otherwise() -> None:
    """The reference keeps the raw text of an extractor reply cut off while thinking; `cut_thinking=empty`
    (clue's earlier behaviour) leaves an empty memory with a note naming the limit to raise."""
    from tests.support.fake_openai import FakeOpenAI, chat_reply, make_llm

    server = FakeOpenAI()
    cut = "<think>The user said they like green tea, so"
    turns = [{"role": "user", "content": "I like green tea."}]
    try:
        for option in ((), ("extractor.cut_thinking=empty",)):
            server.script.append((200, chat_reply(cut, finish_reason="length")))
            llm = make_llm(server.base_url, *option)
            try:
                result = await extract_memory(llm, load_prompt("simple"), turns)
            finally:
                await llm.aclose()
            assert result.cut_in_thinking
            assert any("cut off inside <think>" in note for note in result.notes)
            assert result.memory == ("" if option else cut)
        assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": True}
        assert server.requests[0]["max_tokens"] == 2048
    finally:
        server.close()
