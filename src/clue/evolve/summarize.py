"""Example logs of a batch, and the scenario summary of each (optimizer role, structured output).

A summary describes the *extraction scenario* (what must be kept from the conversation and what makes that
hard), never the dataset: the summarizer is not told the dataset, and any dataset name it still writes is
scrubbed before the summary reaches the clusterer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from clue.bench.records import Pair
from clue.bench.rollouts import Rollout
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError
from clue.memory.render import render_conversation

SOURCE_CHARS = 1500
MEMORY_CHARS = 800
QUERY_CHARS = 600
OUTPUT_CHARS = 600


def clip(limit: int) -> BeforeValidator:
    """Cut an over-long string or list instead of rejecting the whole reply. Pair it with
    `Field(max_length=limit)`: the bound then reaches the JSON schema (a grammar for local models)."""

    def cut(value: object) -> object:
        return value[:limit] if isinstance(value, str | list) else value

    return BeforeValidator(cut)


def excerpt(text: str, limit: int) -> str:
    """Head and tail of a long text; the middle is marked as cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = (limit * 2) // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"


def one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


@dataclass
class ExampleLog:
    """One batch example as the optimizer sees it: a neutral id (pair keys name the dataset), no dataset."""

    id: str
    pair: Pair
    rollout: Rollout
    query: str
    summary: str = ""

    @property
    def success(self) -> bool:
        return self.rollout.reward > 0.5

    @property
    def outcome(self) -> str:
        return "success" if self.success else "failure"

    def overview_line(self) -> str:
        scenario = self.summary or f"task: {self.query}"
        return (f"{self.id} | {self.outcome} | {one_line(scenario, 220)} | memory: "
                f"{one_line(self.rollout.memory or '(empty)', 120)}")

    def full_case(self) -> str:
        source = render_conversation(t.model_dump() for t in self.pair.source_messages)
        return (f"Example {self.id} ({self.outcome}, reward {self.rollout.reward:g})\n"
                + (f"Scenario: {self.summary}\n" if self.summary else "")
                + f"Source conversation (excerpt):\n{excerpt(source, SOURCE_CHARS)}\n"
                f"Memory written:\n{excerpt(self.rollout.memory or '(empty)', MEMORY_CHARS)}\n"
                f"Later task:\n{excerpt(self.query, QUERY_CHARS)}\n"
                f"Solver reply:\n{excerpt(self.rollout.solver_output or '(none)', OUTPUT_CHARS)}")


QueryFn = Callable[[Pair], str]


def build_logs(pairs: Sequence[Pair], rollouts: Sequence[Rollout], query: QueryFn,
               summaries: dict[str, str] | None = None) -> list[ExampleLog]:
    width = max(2, len(str(len(pairs))))
    logs = []
    for number, (pair, rollout) in enumerate(zip(pairs, rollouts, strict=True), start=1):
        eid = f"e{number:0{width}d}"
        logs.append(ExampleLog(eid, pair, rollout, query(pair), (summaries or {}).get(eid, "")))
    return logs


def dataset_names(pairs: Iterable[Pair]) -> list[str]:
    """Dataset and subset names, spaced and camel-split spellings, and their leading word (MMLU, AIME)."""
    names: set[str] = set()
    for pair in pairs:
        for name in (pair.dataset, pair.subset):
            parts = [p for p in re.split(r"[_\-\s]+", name) if p]
            camel = re.sub(r"(?<=[a-z])(?=[A-Z0-9])", " ", name)
            names.update({name, " ".join(parts), camel})
            if parts and len(parts[0]) >= 4 and not parts[0].isdigit():
                names.add(parts[0])
    return sorted(names, key=len, reverse=True)


def scrub(text: str, names: Sequence[str]) -> str:
    """Replace dataset names so grouping cannot fall back on them."""
    for name in names:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "the task set", text, flags=re.IGNORECASE)
    return text


class ScenarioSummary(BaseModel):
    summary: Annotated[str, clip(500), Field(max_length=500)]


SUMMARIZER = """You review one example of memory extraction. An extractor read a past conversation and \
wrote memories; later a solver used them on a new task. The outcome says whether that worked.
Write 2-3 sentences on the extraction scenario: what kind of information had to be kept for the later task \
(for example exact values, personal preferences, a solution method, the cause of a failure), what made \
keeping it hard, and whether the memory kept it.
Stay general: no names, numbers, topics or dataset names from the example.
Reply with JSON only: {"summary": "..."}"""


def summary_messages(log: ExampleLog) -> list[Message]:
    case = log.full_case()
    return [{"role": "system", "content": SUMMARIZER},
            {"role": "user", "content": f"{case}\n\nWrite the scenario summary."}]


async def summarize_example(llm: LLM, log: ExampleLog, names: Sequence[str]) -> str:
    """2-3 sentences; a plain outcome line if the model gives nothing usable (the run goes on)."""
    try:
        result = await llm.structured("optimizer", summary_messages(log), ScenarioSummary, cuttable_index=1)
    except TransientLLMError:
        raise
    except LLMError as exc:
        return f"({log.outcome}; no summary: {str(exc)[:80]})"
    if result.value is None or not result.value.summary.strip():
        return f"({log.outcome}; no summary: the summarizer reply was not usable)"
    return scrub(" ".join(result.value.summary.split()), names)
