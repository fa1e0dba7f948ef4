"""Answer formats: their grammars compile in llama.cpp, hold a real model's reply to the format, and reach
the backend only where the role constrains answers (the embedded backend by default)."""

from __future__ import annotations

import re

import pytest

from clue.bench.data.demo import DemoTask, load_demo_pairs
from clue.bench.scorers.answer_format import AnswerFormat, letter_format
from clue.bench.scorers.extract import extract_answer
from clue.bench.scorers.mcq import parse_choice
from clue.bench.solvers.single_turn import answer_grammar
from clue.config import load_settings, parse_role_overrides
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.cache import cache_key
from clue.llm.client import LLM
from clue.llm.types import Decoding

FORMATS = [letter_format("DCBA"), letter_format("AB", reasoning_chars=600), AnswerFormat("integer"),
           AnswerFormat("expression"), AnswerFormat("equation")]


def test_letter_format_lists_each_option_letter_once_in_order() -> None:
    grammar = letter_format(["b", "A", "C", "A"]).grammar()
    assert 'answer ::= "A" | "B" | "C"\n' in grammar
    assert grammar.startswith('root ::= "<answer>"')  # no free text before the answer unless asked for
    assert 'root ::= prose "<answer>"' in letter_format("AB", reasoning_chars=50).grammar()


@pytest.mark.parametrize("answer_format", FORMATS, ids=lambda f: f"{f.kind}-{f.reasoning_chars}")
def test_every_grammar_compiles_in_llama_cpp(answer_format: AnswerFormat) -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    LlamaGrammar.from_string(answer_format.grammar(), verbose=False)


def test_every_demo_pair_declares_its_format_and_states_it_once() -> None:
    task = DemoTask()
    for pair in load_demo_pairs():
        prompt = task.query_messages(pair)[-1]["content"]
        assert prompt.count("<answer>") == 1, prompt
        assert "End your reply" not in prompt, prompt
        grammar = answer_grammar(task, pair)
        assert grammar is not None and grammar.startswith('root ::= "<answer>"')


def test_a_demo_task_with_a_reasoning_budget_asks_for_a_short_thought_then_the_tag() -> None:
    task = DemoTask(reasoning_chars=240)
    for pair in load_demo_pairs():
        prompt = task.query_messages(pair)[-1]["content"]
        assert prompt.count("<answer>") == 1 and "Think in at most two short sentences" in prompt, prompt
        grammar = answer_grammar(task, pair)
        assert grammar is not None and grammar.startswith('root ::= prose "<answer>"') and "{0,240}" in grammar


@pytest.mark.parametrize(("answer", "letter"), [
    ("Flask", "B"), ("<C>Flask</C>", "B"), ("I would pick Axum.", "A"), ("spring boot", "D"), ("Answer: D", "D"),
    ("Express or Flask", None), ("<B></answer>", None), ("Rust", None), ("", None),
])
def test_an_unambiguous_option_text_picks_its_option(answer: str, letter: str | None) -> None:
    options = {"A": "Axum", "B": "Flask", "C": "Express", "D": "Spring Boot"}
    assert parse_choice(answer, options) == letter


def test_a_short_option_text_counts_only_when_it_is_the_whole_answer() -> None:
    options = {"A": "6", "B": "7", "C": "8", "D": "9"}
    assert parse_choice("8", options) == "C"
    assert parse_choice("8 or 9", options) is None


def _llm(backend: ScriptedBackend, *overrides: str, name: str = "scripted") -> LLM:
    settings = load_settings(env={}, cli={"backend": name, "model": "m"}, no_cache=True,
                             role_overrides=parse_role_overrides(list(overrides)))
    return LLM(settings, backend=backend, cache=None)


async def test_the_grammar_reaches_the_backend_only_where_answers_are_constrained() -> None:
    grammar = letter_format("AB").grammar()
    backend = ScriptedBackend()
    await _llm(backend).chat("solver", [{"role": "user", "content": "q"}], answer_grammar=grammar)
    await _llm(backend, "solver.constrained_answers=true").chat("solver", [{"role": "user", "content": "q"}],
                                                                 answer_grammar=grammar)
    assert [call.grammar for call in backend.calls] == [None, grammar]


def test_answers_are_constrained_by_default_on_the_embedded_backend_only() -> None:
    settings = load_settings(env={}, cli={"backend": "local"}, no_cache=True)
    assert settings.roles["solver"].answers_constrained()
    endpoint = load_settings(env={}, cli={"backend": "openai", "base_url": "http://h/v1"}, no_cache=True)
    assert not endpoint.roles["solver"].answers_constrained()
    off = load_settings(env={}, cli={"backend": "local"}, no_cache=True,
                        role_overrides=parse_role_overrides(["solver.constrained_answers=false"]))
    assert not off.roles["solver"].answers_constrained()


def test_a_constrained_reply_is_cached_apart_from_a_free_one() -> None:
    decoding = Decoding(temperature=0.7, top_p=0.8, max_tokens=8, seed=1)
    messages = [{"role": "user", "content": "q"}]
    free = cache_key("local:m", "m", messages, decoding, None)  # type: ignore[arg-type]
    assert free == cache_key("local:m", "m", messages, decoding, None, None)  # type: ignore[arg-type]
    assert free != cache_key("local:m", "m", messages, decoding, None, "root ::= \"A\"")  # type: ignore[arg-type]


@pytest.mark.model
async def test_the_real_model_answers_every_demo_kind_in_its_format() -> None:
    settings = load_settings(env={}, cli={"backend": "local", "model": "smollm2-135m"}, no_cache=True,
                             role_overrides=parse_role_overrides(["solver.max_tokens=48"]))  # the demo's
    llm = LLM(settings, cache=None)
    task = DemoTask()
    shapes = {"mcq": r"[A-H]", "integer": r"-?\d+", "game24": r"[-0-9()+*/ ]+", "equation": r"[-0-9()+*/= ]+"}
    chosen = {pair.target["scorer"]: pair for pair in load_demo_pairs()}
    try:
        for kind, pair in chosen.items():
            reply = (await llm.chat("solver", task.query_messages(pair),
                                    answer_grammar=answer_grammar(task, pair))).text
            assert re.fullmatch(rf"<answer> ?{shapes[kind]} ?</answer>", reply), (kind, reply)
            assert extract_answer(reply) is not None
    finally:
        await llm.aclose()


def test_the_format_wraps_the_answer_as_the_prompt_asks() -> None:
    assert letter_format("AB", tags=("", "")).grammar().startswith('root ::= " "? answer " "?\n')
    choice = letter_format("AB", tags=("<choice>", "</choice>"), reasoning_chars=100).grammar()
    assert choice.startswith('root ::= prose "<choice>" " "? answer " "? "</choice>"')
    # Free text needs an opening tag that starts with "<": otherwise where the answer starts is unknown.
    assert "prose" not in letter_format("AB", tags=("", ""), reasoning_chars=100).grammar()
