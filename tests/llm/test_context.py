"""Context fitting: a middle cut of one message keeps head and tail and never leaves a request over budget."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from clue.llm.context import CUT_MARKER, cut_middle, fit_messages, prompt_tokens
from clue.llm.types import ContextOverflowError, Message

Counter = Callable[[str], int]
MARKER_RE = re.compile(r"\n\[\.\.\. \d+ characters cut here to fit the context window \.\.\.\]\n")


def words(text: str) -> int:
    return len(text.split()) + 1


def chars3(text: str) -> int:
    return int(len(text) / 3.0) + 1


def lumpy(text: str) -> int:
    """Not linear in characters: digits cost a token each, everything else ~4 characters a token."""
    digits = sum(ch.isdigit() for ch in text)
    return digits + (len(text) - digits) // 4 + 1


COUNTERS: list[Counter] = [words, chars3, lumpy]


def make_text(n: int, rng: random.Random) -> str:
    vocab = ["alpha", "beta", "1234", "gamma", "delta", "x", "épsilon", "42", "\n", "zeta-eta"]
    out: list[str] = []
    size = 0
    while size < n:
        word = rng.choice(vocab)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:n]


def conversation(source: str) -> list[Message]:
    return [{"role": "system", "content": "Extract what matters from the conversation below."},
            {"role": "user", "content": source},
            {"role": "assistant", "content": "ok"}]


def assert_middle_cut(original: str, cut: str) -> None:
    markers = list(MARKER_RE.finditer(cut))
    assert markers, "a cut text carries the marker"
    head = cut[:markers[0].start()]
    tail = cut[markers[-1].end():]
    assert original.startswith(head)
    assert original.endswith(tail)
    assert len(head) > 0 or len(cut) <= len(CUT_MARKER) + 32 + 8


def test_fits_untouched_when_small() -> None:
    messages = conversation("short text")
    result = fit_messages(messages, context_size=1000, max_tokens=100, count=words, cuttable_index=1,
                          model="m")
    assert result.messages == messages
    assert result.cut_chars == 0
    assert result.note is None
    assert result.prompt_tokens == prompt_tokens(messages, words)


def test_cut_keeps_head_and_tail_and_records_it() -> None:
    source = "HEAD " + "filler " * 2000 + " TAIL"
    messages = conversation(source)
    result = fit_messages(messages, context_size=1000, max_tokens=200, count=chars3, cuttable_index=1,
                          model="m")
    content = result.messages[1]["content"]
    assert content.startswith("HEAD ")
    assert content.endswith(" TAIL")
    assert_middle_cut(source, content)
    assert result.cut_chars == len(source) - len(content) > 0
    assert result.note is not None and str(result.cut_chars) in result.note
    assert result.prompt_tokens <= 1000 - 200
    assert result.messages[0] == messages[0] and result.messages[2] == messages[2]
    assert result.messages[1]["role"] == "user"
    assert messages[1]["content"] == source, "the caller's messages are not mutated"


def test_head_and_tail_are_balanced() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    cut = cut_middle(text, 300)
    match = MARKER_RE.search(cut)
    assert match is not None
    head, tail = cut[:match.start()], cut[match.end():]
    assert abs(len(head) - len(tail)) <= 1
    assert len(text) - len(head) - len(tail) >= 300
    assert cut_middle(text, 0) == text


def test_nothing_may_be_cut_raises() -> None:
    messages = conversation("word " * 500)
    with pytest.raises(ContextOverflowError) as info:
        fit_messages(messages, context_size=300, max_tokens=100, count=words, cuttable_index=None,
                     model="tiny")
    message = str(info.value)
    assert "\n" not in message
    assert "tiny" in message and "nothing may be cut" in message


def test_cannot_fit_even_after_cutting_raises() -> None:
    messages: list[Message] = [{"role": "system", "content": "instructions " * 400},
                               {"role": "user", "content": "source " * 400}]
    with pytest.raises(ContextOverflowError, match="even after cutting") as info:
        fit_messages(messages, context_size=300, max_tokens=100, count=words, cuttable_index=1, model="m")
    assert "\n" not in str(info.value)


def test_reply_budget_larger_than_context_raises() -> None:
    with pytest.raises(ContextOverflowError):
        fit_messages(conversation("x"), context_size=100, max_tokens=100, count=words, cuttable_index=1,
                     model="m")


@pytest.mark.parametrize("count", COUNTERS, ids=lambda c: c.__name__)
def test_never_over_budget_property(count: Counter) -> None:
    """Over many lengths and budgets: either a request within budget, or ContextOverflowError."""
    rng = random.Random(1234)
    fixed = prompt_tokens(conversation(""), count)
    outcomes = {"untouched": 0, "cut": 0, "overflow": 0}
    for length in [*range(0, 400, 7), *range(400, 20000, 397)]:
        source = make_text(length, rng)
        messages = conversation(source)
        for context_size in (fixed + 40, 256, 512, 1000, 2048):
            max_tokens = rng.choice([16, 64, 128])
            budget = context_size - max_tokens
            try:
                result = fit_messages(messages, context_size=context_size, max_tokens=max_tokens, count=count,
                                      cuttable_index=1, model="m")
            except ContextOverflowError as exc:
                outcomes["overflow"] += 1
                assert "\n" not in str(exc)
                # Overflow only when even a source cut down to a short head and tail would not fit.
                short = conversation(source[:48] + CUT_MARKER.format(n=length) + source[-48:])
                assert prompt_tokens(short, count) > budget, (length, context_size, max_tokens)
                continue
            used = prompt_tokens(result.messages, count)
            assert used <= budget, (length, context_size, max_tokens, used)
            assert used == result.prompt_tokens
            content = result.messages[1]["content"]
            if result.cut_chars:
                outcomes["cut"] += 1
                assert_middle_cut(source, content)
                assert result.cut_chars == len(source) - len(content)
                assert result.note is not None
            else:
                outcomes["untouched"] += 1
                assert content == source
                assert prompt_tokens(messages, count) <= budget
    assert all(outcomes.values()), outcomes  # the loop really exercised every branch


@pytest.mark.parametrize("count", COUNTERS, ids=lambda c: c.__name__)
def test_a_source_far_over_the_window_keeps_about_a_window_of_it(count: Counter) -> None:
    """212 KB, 531 KB and 1 MB sources all keep about as much text as the window holds (the margin applies to
    what is kept, not to what is removed, so a larger source does not keep less)."""
    rng = random.Random(7)
    context_size, max_tokens = 32768, 2048
    budget = context_size - max_tokens
    kept: list[int] = []
    for size in (212_000, 531_000, 1_000_000):
        source = make_text(size, rng)
        result = fit_messages(conversation(source), context_size=context_size, max_tokens=max_tokens, count=count,
                              cuttable_index=1, model="m")
        assert result.prompt_tokens <= budget
        assert result.prompt_tokens >= 0.9 * budget, (size, result.prompt_tokens, budget)
        assert_middle_cut(source, result.messages[1]["content"])
        kept.append(len(result.messages[1]["content"]))
    assert max(kept) - min(kept) <= 0.05 * max(kept), kept
