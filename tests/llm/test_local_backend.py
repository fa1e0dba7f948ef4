"""LocalBackend against the real SmolLM2-135M GGUF through llama-cpp-python (small enough for CI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clue.llm.backends.local import LocalBackend
from clue.llm.types import ContextOverflowError, Decoding, LLMError, Message

pytestmark = pytest.mark.model

MODEL = "smollm2-135m"
GREEDY = Decoding(temperature=0.0, top_p=1.0, max_tokens=24, seed=7)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def backend(models_dir: Path) -> Iterator[LocalBackend]:
    local = LocalBackend(cache_dir=models_dir)
    yield local
    asyncio.run(local.aclose())


def ask(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


async def test_plain_chat_returns_text_with_real_token_counts(backend: LocalBackend) -> None:
    completion = await backend.complete(MODEL, ask("What is the capital of France?"), GREEDY)

    assert completion.text.strip()
    # The GGUF's chat template adds SmolLM2's default system prompt: the prompt outgrows the question.
    assert completion.prompt_tokens > backend.count_tokens(MODEL, "What is the capital of France?")
    assert 0 < completion.completion_tokens <= GREEDY.max_tokens
    assert completion.finish_reason in {"stop", "length"}
    assert completion.latency_s > 0
    assert not completion.cached


async def test_json_schema_output_parses_and_respects_max_items(backend: LocalBackend) -> None:
    schema = {
        "type": "object",
        "properties": {
            "colors": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 2},
            "count": {"type": "integer"},
        },
        "required": ["colors", "count"],
        "additionalProperties": False,
    }
    messages = ask("Name as many colors as you can, in JSON with keys colors and count.")

    completion = await backend.complete(MODEL, messages, Decoding(temperature=0.8, max_tokens=120, seed=3),
                                        json_schema=schema)

    reply = json.loads(completion.text)
    assert set(reply) == {"colors", "count"}
    assert isinstance(reply["count"], int)
    assert isinstance(reply["colors"], list) and len(reply["colors"]) <= 2
    assert all(isinstance(color, str) and len(color) <= 12 for color in reply["colors"])


async def test_the_same_seed_gives_the_same_sample(backend: LocalBackend) -> None:
    decoding = Decoding(temperature=1.0, top_p=0.95, max_tokens=16, seed=1234)
    first = await backend.complete(MODEL, ask("Write a short poem about rain."), decoding)
    second = await backend.complete(MODEL, ask("Write a short poem about rain."), decoding)

    assert first.text == second.text


async def test_concurrent_calls_to_one_model_all_complete(backend: LocalBackend) -> None:
    replies = await asyncio.gather(*(backend.complete(MODEL, ask(f"Say the number {n}."), GREEDY)
                                     for n in range(3)))

    assert all(reply.completion_tokens > 0 for reply in replies)


def test_count_tokens_uses_the_model_tokenizer(backend: LocalBackend) -> None:
    short = backend.count_tokens(MODEL, "hello world")
    long = backend.count_tokens(MODEL, "hello world " * 50)

    assert 0 < short < long
    assert backend.context_size(MODEL) == 8192


async def test_a_prompt_beyond_the_context_raises_context_overflow(models_dir: Path) -> None:
    small = LocalBackend(cache_dir=models_dir, n_ctx={MODEL: 256})
    try:
        assert small.context_size(MODEL) == 256
        with pytest.raises(ContextOverflowError, match=MODEL):
            await small.complete(MODEL, ask("lorem ipsum dolor " * 200), GREEDY)
    finally:
        await small.aclose()


async def test_an_unknown_model_is_a_one_line_error(backend: LocalBackend) -> None:
    with pytest.raises(LLMError) as raised:
        await backend.complete("gpt-7", ask("hi"), GREEDY)

    assert "gpt-7" in str(raised.value) and "\n" not in str(raised.value)


async def test_long_string_bounds_do_not_crash_the_grammar() -> None:
    """llama.cpp crashes on a string maxLength near 2000; the backend must drop such bounds."""
    backend = LocalBackend(n_ctx=1024)
    schema = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 4000}},
              "required": ["text"]}
    try:
        reply = await backend.complete("smollm2-135m", [{"role": "user", "content": "Say hi as JSON."}],
                                       Decoding(max_tokens=24, seed=1), json_schema=schema)
    finally:
        await backend.aclose()
    assert reply.text.lstrip().startswith("{")


SYSTEM = ("You keep notes for a user. " + "Record each fact about their projects, tools and preferences "
          "as a short numbered line, and never invent details that were not said. ") * 6


def notes_request(question: str) -> list[Message]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


async def test_prefix_reuse_computes_fewer_tokens_and_changes_no_reply(models_dir: Path) -> None:
    """Shared whole blocks are reused, from the live context or the RAM store, bit-identically."""
    sampled = Decoding(temperature=1.0, top_p=0.95, max_tokens=16, seed=11)
    first = notes_request("I use vim and Rust for a compiler project, and I review code every morning. " * 4)
    second = notes_request("My cat is called Miso; she wakes me at six and likes the balcony. " * 4)
    reusing = LocalBackend(cache_dir=models_dir, n_batch=64)
    fresh = LocalBackend(cache_dir=models_dir, n_batch=64, reuse_prompt_prefix=False)
    try:
        replies = [await reusing.complete(MODEL, request, sampled) for request in (first, second, first)]
        expected = [await fresh.complete(MODEL, request, sampled) for request in (first, second)]
        stats = reusing.prefill_stats()
    finally:
        await reusing.aclose()
        await fresh.aclose()

    assert [reply.text for reply in replies] == [expected[0].text, expected[1].text, expected[0].text]
    assert stats.requested == sum(reply.prompt_tokens for reply in replies)
    # The second call reuses the shared system prompt's whole blocks; the third restores the first
    # call's prompt from the store (the live context then held the second one).
    assert stats.restored == 1
    assert stats.computed < stats.requested - 2 * 64
    assert fresh.prefill_stats().requested == 0  # no reuse, no accounting


async def test_decoding_on_fewer_threads_beside_busy_processes_changes_no_reply(
        models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    import clue.llm.backends.local as local_module
    from clue.llm.backends.cpu_share import ThreadGovernor

    prompts = [ask("Write a haiku about rivers."), ask("List three prime numbers and explain why.")]
    sampled = Decoding(temperature=0.8, top_p=0.95, max_tokens=40, seed=3)
    fixed = LocalBackend(cache_dir=models_dir, n_threads=2, fair_decode_threads=False)
    try:
        expected = [await fixed.complete(MODEL, p, d) for p in prompts for d in (GREEDY, sampled)]
    finally:
        await fixed.aclose()

    # As if the machine were full of busy processes: decode steps run on one thread, prompt batches on two.
    monkeypatch.setattr(local_module, "ThreadGovernor", lambda cpus: ThreadGovernor(cpus, others=lambda: 1000))
    crowded = LocalBackend(cache_dir=models_dir, n_threads=2, fair_decode_threads=True)
    try:
        replies = [await crowded.complete(MODEL, p, d) for p in prompts for d in (GREEDY, sampled)]
        ctx = crowded._models[MODEL].llama.ctx
        assert (llama_cpp.llama_n_threads(ctx), llama_cpp.llama_n_threads_batch(ctx)) == (1, 2)
    finally:
        await crowded.aclose()
    assert [r.text for r in replies] == [r.text for r in expected]
    assert all(r.completion_tokens > 5 for r in replies)


async def test_stop_strings_end_the_reply_where_the_unstopped_one_breaks_its_first_line(
        backend: LocalBackend) -> None:
    question = ask("Write the numbers one to five in words, each on its own line.")
    full = await backend.complete(MODEL, question, Decoding(temperature=0.0, top_p=1.0, max_tokens=40, seed=7))
    assert "\n" in full.text.strip()  # the unstopped reply runs over several lines
    stopped = await backend.complete(MODEL, question, Decoding(temperature=0.0, top_p=1.0, max_tokens=40, seed=7,
                                                               stop=("\n",)))
    assert "\n" not in stopped.text and stopped.text == full.text.split("\n")[0]
    assert stopped.completion_tokens < full.completion_tokens
