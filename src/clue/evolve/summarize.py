"""Example logs of a batch, and the scenario summary of each (optimizer role, structured output).

A summary describes the *extraction scenario* (what must be kept from the conversation and what makes that
hard), never the dataset: the summarizer is not told the dataset, and any dataset name it still writes is
scrubbed before the summary reaches the clusterer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from clue.bench.data.records import Pair
from clue.bench.run.rollouts import Rollout
from clue.evolve.feedback import FeedbackPolicy, QueryFn, outcome_label, render_rollout, succeeded
from clue.evolve.replies import Replies, or_default
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError


def clip(limit: int) -> BeforeValidator:
    """Cut an over-long string or list instead of rejecting the whole reply. Pair it with
    `Field(max_length=limit)`: the bound then reaches the JSON schema (a grammar for local models)."""

    def cut(value: object) -> object:
        return value[:limit] if isinstance(value, str | list) else value

    return BeforeValidator(cut)


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
    policy: FeedbackPolicy = field(default_factory=FeedbackPolicy)

    @property
    def success(self) -> bool:
        return succeeded(self.rollout)

    @property
    def outcome(self) -> str:
        return outcome_label(self.rollout)

    def overview_line(self) -> str:
        scenario = self.summary or f"task: {self.query}"
        return (f"{self.id} | {self.outcome} | {one_line(scenario, 220)} | memory: "
                f"{one_line(self.rollout.memory or '(empty)', 120)}")

    def full_case(self, policy: FeedbackPolicy | None = None) -> str:
        return render_rollout(self.pair, self.rollout, self.query, policy or self.policy,
                              title=f"Example {self.id}. ", summary=self.summary)


def build_logs(pairs: Sequence[Pair], rollouts: Sequence[Rollout], query: QueryFn,
               summaries: dict[str, str] | None = None,
               policy: FeedbackPolicy | None = None) -> list[ExampleLog]:
    width = max(2, len(str(len(pairs))))
    logs = []
    for number, (pair, rollout) in enumerate(zip(pairs, rollouts, strict=True), start=1):
        eid = f"e{number:0{width}d}"
        logs.append(ExampleLog(eid, pair, rollout, query(pair), (summaries or {}).get(eid, ""),
                               policy or FeedbackPolicy()))
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
    summary: Annotated[str, clip(500), Field(min_length=1, max_length=500)]


SUMMARIZER = """You read one memory-extraction example and describe its extraction scenario. An extractor \
read a past conversation and wrote a memory; later a solver used that memory on a target query, with the \
outcome shown.
In 2-3 flowing sentences, say what kind of information had to be extracted for the target (for example a \
stated fact, a preference, a procedure, a cause of failure, a time or place relation) and what made \
extracting it hard (for example a long context, information stated only implicitly, noise around it, \
choosing between keeping details verbatim and abstracting them).
Describe the scenario, not the topic or the dataset: no names, numbers or subject matter from the example.
Reply with JSON only: {"summary": "..."}"""


def summary_messages(log: ExampleLog, chars: int | None) -> list[Message]:
    policy = FeedbackPolicy(show_gold=log.policy.show_gold, source_chars=chars, query_chars=chars,
                            output_chars=chars)
    return [{"role": "system", "content": SUMMARIZER},
            {"role": "user", "content": f"{log.full_case(policy)}\n\nWrite the scenario summary."}]


async def summarize_example(llm: LLM, log: ExampleLog, names: Sequence[str], chars: int | None = 4096,
                            replies: Replies | None = None) -> str:
    """2-3 sentences; a plain outcome line if the model gives nothing usable (the run goes on, the reply is
    counted as unusable)."""
    try:
        result = await or_default(replies).ask(llm, "summary", summary_messages(log, chars), ScenarioSummary,
                                               cuttable_index=1)
    except TransientLLMError:
        raise
    except LLMError as exc:
        return f"({log.outcome}; no summary: {str(exc)[:80]})"
    if result.value is None or not result.value.summary.strip():
        return f"({log.outcome}; no summary: the summarizer reply was not usable)"
    return scrub(" ".join(result.value.summary.split()), names)
