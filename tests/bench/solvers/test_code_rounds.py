"""The code-executing solver on real BEHEMOTH problems, driven by scripted replies that write code, read the
sandbox's real output and answer from it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from clue.bench.data.loader import load_pairs
from clue.bench.data.records import Pair
from clue.bench.run.events import CodeRunEvent, Event, LLMCallEvent
from clue.bench.sandbox import isolation as sandbox_module
from clue.bench.sandbox.isolation import Sandbox
from clue.bench.scorers.tasks import task_for
from clue.bench.solvers.base import SolveContext
from clue.bench.solvers.code_rounds import (
    CODE_FLAG,
    CODE_LIMITS,
    OUTPUT_HEADER,
    CodeRoundsSolver,
    execution_request,
    print_last_line,
    reference_final_answer,
)
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(os.environ.get("CLUE_DATA_ROOT") or REPO_ROOT / "../shared/behemoth")
needs_sandbox = pytest.mark.skipif(not sandbox_module.detect_isolation().available,
                                   reason="no sandbox isolation on this machine")

SEARCH_24 = """```python
from itertools import permutations, product
numbers = [{numbers}]
found = None
for a, b, c, d in permutations(numbers):
    for x, y, z in product('+-*/', repeat=3):
        for shape in ('(({a}{x}{b}){y}{c}){z}{d}', '({a}{x}{b}){y}({c}{z}{d})', '({a}{x}({b}{y}{c})){z}{d}',
                      '{a}{x}(({b}{y}{c}){z}{d})', '{a}{x}({b}{y}({c}{z}{d}))'):
            expression = shape.format(a=a, b=b, c=c, d=d, x=x, y=y, z=z)
            try:
                if found is None and abs(eval(expression) - 24) < 1e-9:
                    found = expression
            except ZeroDivisionError:
                pass
found
```
EXECUTE CODE!
I will wait for the output."""


def _pair(dataset: str) -> Pair:
    return load_pairs(DATA_ROOT, dataset, "train", limit=1, warn=pytest.fail)[0]


def _llm(responder: object) -> tuple[LLM, ScriptedBackend]:
    backend = ScriptedBackend(responder)  # type: ignore[arg-type]
    return LLM(load_settings(env={}), backend=backend, cache=None), backend


def _last_output(call: ScriptedCall) -> str:
    text = call.messages[-2]["content"]
    shown = re.findall(re.escape(OUTPUT_HEADER) + r"\n```\n(.*?)\n```", text, flags=re.DOTALL)
    return shown[-1] if shown else ""


@needs_sandbox
async def test_game_of_24_is_solved_from_the_sandbox_output() -> None:
    pair = _pair("GameOf24")
    numbers = ", ".join(pair.target["task_main"].split())

    def responder(call: ScriptedCall) -> str:
        if len(call.messages) == 2:
            return "Let me search every expression.\n" + SEARCH_24.replace("{numbers}", numbers)
        return f"The search found an expression.\n\nFINAL ANSWER:\n<answer>\n{_last_output(call)}\n</answer>"

    llm, backend = _llm(responder)
    recorded: list[Event] = []
    episode = await CodeRoundsSolver().solve(pair, "1. Search all expressions with code.",
                                             SolveContext(llm=llm, record=recorded.append))

    system, first_user = backend.calls[0].messages
    assert "Retrieved Memory" in first_user["content"] and "Search all expressions" in first_user["content"]
    assert "Search all expressions" not in system["content"]
    assert pair.target["input"] in first_user["content"]
    runs = [e for e in episode.events if isinstance(e, CodeRunEvent)]
    assert len(runs) == 1 and runs[0].exit_code == 0 and runs[0].code.rstrip().endswith("print(found)")
    assert [type(e) for e in episode.events] == [LLMCallEvent, CodeRunEvent, LLMCallEvent] == \
        [type(e) for e in recorded]
    # The assistant turn keeps the text up to the trigger plus the output; what followed the trigger is gone.
    assistant = episode.messages[2]["content"]
    assert assistant.count(CODE_FLAG) == 1 and "I will wait" not in assistant
    assert runs[0].stdout.strip() in assistant
    assert episode.answer == runs[0].stdout.strip()
    score = task_for("GameOf24").score_answer(pair.target, episode.answer)  # type: ignore[attr-defined]
    assert score.reward == 1.0


@needs_sandbox
async def test_three_follow_ups_at_most_and_the_last_is_announced() -> None:
    pair = _pair("AIME")
    code_reply = "Compute it.\n```python\nimport math\nmath.factorial(5)\n```\nEXECUTE CODE!"
    llm, backend = _llm(lambda call: code_reply)
    episode = await CodeRoundsSolver(Sandbox(CODE_LIMITS)).solve(pair, "", SolveContext(llm=llm))

    assert len(backend.calls) == 4  # the first reply and three follow-ups; the fourth code run ends it
    follow_ups = [m["content"] for m in episode.messages if m["role"] == "user"][1:]
    assert len(follow_ups) == 3
    assert ["last round" in text for text in follow_ups] == [False, False, True]
    assert "Retrieved Memory" not in episode.messages[1]["content"]  # no memory, no section
    runs = [e for e in episode.events if isinstance(e, CodeRunEvent)]
    assert len(runs) == 4 and all(run.stdout == "120\n" for run in runs)
    assert episode.messages[-1]["role"] == "assistant"
    assert episode.answer is None  # the solver never gave a final answer


@needs_sandbox
async def test_errors_and_timeouts_are_fed_back() -> None:
    pair = _pair("GameOf24")
    replies = ["```python\n1 / 0\n```\nEXECUTE CODE!", "```python\nwhile True:\n    pass\n```\nEXECUTE CODE!",
               "FINAL ANSWER:\n<answer>(4 + 4) * 3</answer>"]
    llm, _ = _llm(replies)
    episode = await CodeRoundsSolver().solve(pair, "", SolveContext(llm=llm))
    first, second = episode.messages[2]["content"], episode.messages[4]["content"]
    assert "The code failed:" in first and "ZeroDivisionError" in first
    assert "ran too long" in second
    assert episode.answer == "(4 + 4) * 3"


def test_what_counts_as_a_request_to_run_code() -> None:
    assert execution_request("```python\nprint(1)\n```\nEXECUTE CODE!") == "```python\nprint(1)\n```"
    assert execution_request("```python\nprint(1)\n```\nThen EXECUTE CODE!") is None  # not right after a fence
    assert execution_request("no code here") is None


def test_the_last_line_is_printed_as_the_reference_does() -> None:
    assert print_last_line("x = 2\nx * 3") == "x = 2\nprint(x * 3)"
    assert print_last_line("print(1)") == "print(1)"
    assert print_last_line("for i in range(2):\n    i") == "for i in range(2):\n    i"
    assert print_last_line("y = 1") == "print(y = 1)"  # the reference's quirk: an assignment becomes an error


def test_final_answer_rules() -> None:
    assert reference_final_answer("<answer>1</answer> then <answer> 2 </answer>") == "2"
    assert reference_final_answer("FINAL ANSWER:\n```\n42\n```") == "42"
    assert reference_final_answer("FINAL ANSWER: '''python\nx\n'''") == "x"
    assert reference_final_answer("FINAL ANSWER: 42") is None
    assert reference_final_answer("nothing") is None


@pytest.mark.model
@needs_sandbox
async def test_the_real_smollm2_runs_through_the_loop() -> None:
    pair = _pair("GameOf24")
    settings = load_settings(env={}, cli={"backend": "local", "model": "smollm2-135m"},
                             role_overrides={"solver": {"max_tokens": 24, "temperature": 0.0}})
    llm = LLM(settings, cache=None)
    try:
        episode = await CodeRoundsSolver().solve(pair, "1. Check candidate expressions with Python.",
                                                 SolveContext(llm=llm))
    finally:
        await llm.aclose()
    calls = [e for e in episode.events if isinstance(e, LLMCallEvent)]
    runs = [e for e in episode.events if isinstance(e, CodeRunEvent)]
    assert 1 <= len(calls) <= 4 and calls[0].completion_tokens > 0
    assert "Check candidate expressions" in calls[0].messages[1]["content"]
    assistant = [m["content"] for m in episode.messages if m["role"] == "assistant"]
    assert len(assistant) == len(calls)
    assert len(runs) == sum(CODE_FLAG in text for text in assistant)  # every accepted request ran, once
    assert episode.final_text.startswith(assistant[0].strip()[:20])
