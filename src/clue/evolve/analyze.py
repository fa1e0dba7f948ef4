"""Analyze one group of examples (a cluster, or MemEvolve's whole batch) alone.

The analyst reads the group's logs through two tools, run as a JSON-action loop over `llm.structured`:
  {"action": "overview", "page": n}  one line per example: id, outcome, scenario, memory snippet;
  {"action": "case", "id": "e03"}    one example in full: source excerpt, memory, task, solver reply, reward;
  {"action": "final", ...}           the success analysis, failure analysis and 3-5 recommendations.
The loop has a step cap. On an unusable reply, or when `analysis_mode="context"`, the logs go into one
prompt instead, truncated to `analysis_context_chars`. Everything is a pure function of the replies, so the
scripted backend gives the same run every time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from clue.evolve.protocol import EvolveSettings
from clue.evolve.state import AnalysisRecord, ClusterRecord
from clue.evolve.summarize import ExampleLog, clip
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError

# Length bounds reach the JSON schema, so a grammar-constrained local model cannot ramble on one field and
# never reach the next. (Keep each maxLength well under 1000: llama.cpp grammars reject longer repetitions.)
Text = Annotated[str, clip(400), Field(max_length=400)]
Advice = Annotated[str, clip(200), Field(max_length=200)]


class AnalystAction(BaseModel):
    """One tool call, or "final" (the analysis may come with it, or is asked for next)."""

    action: Literal["overview", "case", "final"]
    page: int = 1
    id: Annotated[str, clip(20), Field(max_length=20)] = ""
    success_analysis: Text = ""
    failure_analysis: Text = ""
    recommendations: Annotated[list[Advice], clip(5)] = Field(default_factory=list, max_length=5)


class ClusterAnalysis(BaseModel):
    """Every field required: a constrained model must write all three."""

    success_analysis: Text
    failure_analysis: Text
    recommendations: Annotated[list[Advice], clip(5)] = Field(min_length=3, max_length=5)


@dataclass
class Group:
    key: str
    label: str
    description: str
    logs: list[ExampleLog]

    @property
    def successes(self) -> int:
        return sum(1 for log in self.logs if log.success)

    def header(self) -> str:
        return (f"Group {self.key}: {self.label}. {self.description}\n{len(self.logs)} examples: "
                f"{self.successes} successes, {len(self.logs) - self.successes} failures.")


_GOAL = """Your goal: explain what the memories did well where the solver succeeded, what they missed \
where it failed, and give 3-5 recommendations: concrete changes to the extraction prompt's instructions for \
this kind of scenario. Keep advice general; never copy text from the examples."""

TOOL_ANALYST = """You analyze a group of memory-extraction examples that share a scenario. An extractor \
turned each past conversation into memories; a solver then used them on a later task.
""" + _GOAL + """
Read the logs with tools. Reply each turn with one JSON object and nothing else:
{{"action": "overview", "page": 1}} lists examples: id, outcome, scenario, memory snippet.
{{"action": "case", "id": "e01"}} shows one example in full.
{{"action": "final"}} when you have read enough; you then write the analysis.
You have at most {steps} turns."""

CONTEXT_ANALYST = """You analyze a group of memory-extraction examples that share a scenario. An extractor \
turned each past conversation into memories; a solver then used them on a later task. The logs follow.
""" + _GOAL + """
Reply with JSON only: {"success_analysis": "...", "failure_analysis": "...", "recommendations": ["..."]}"""


def overview_page(group: Group, page: int, size: int) -> str:
    pages = max(1, math.ceil(len(group.logs) / size))
    page = min(max(page, 1), pages)
    lines = [log.overview_line() for log in group.logs[(page - 1) * size: page * size]]
    return f"Overview page {page} of {pages}:\n" + "\n".join(lines)


def context_logs(group: Group, budget: int) -> str:
    """Overview of all examples, then full cases (failures and successes alternating) while they fit."""
    parts = ["Overview:", *(log.overview_line() for log in group.logs)]
    used = sum(len(p) + 1 for p in parts)
    failures = [log for log in group.logs if not log.success]
    successes = [log for log in group.logs if log.success]
    interleaved = [log for pair in zip(failures, successes, strict=False) for log in pair]
    shorter = min(len(failures), len(successes))
    interleaved += failures[shorter:] + successes[shorter:]
    for log in interleaved:
        case = log.full_case()
        if used + len(case) + 2 > budget:
            break
        parts.append("\n" + case)
        used += len(case) + 2
    text = "\n".join(parts)
    return text if len(text) <= budget else text[:budget] + "\n[... logs cut to fit ...]"


def _record(group: Group, analysis: ClusterAnalysis | AnalystAction, mode: str, steps: int,
            notes: list[str]) -> AnalysisRecord:
    recommendations = clean_recommendations(analysis.recommendations)
    return AnalysisRecord(key=group.key, label=group.label, size=len(group.logs), successes=group.successes,
                          success_analysis=analysis.success_analysis.strip(),
                          failure_analysis=analysis.failure_analysis.strip(),
                          recommendations=recommendations, mode=mode, steps=steps, notes=notes)


def clean_recommendations(items: Sequence[str]) -> list[str]:
    """Drop fragments (fewer than 3 words) and repeats, which small constrained models produce."""
    kept: list[str] = []
    for item in items:
        text = " ".join(item.split())
        if len(text.split()) >= 3 and text.lower() not in {k.lower() for k in kept}:
            kept.append(text)
    return kept[:5]


def _failed(group: Group, steps: int, notes: list[str]) -> AnalysisRecord:
    return AnalysisRecord(key=group.key, label=group.label, size=len(group.logs), successes=group.successes,
                          mode="failed", steps=steps, notes=notes)


async def _tool_loop(llm: LLM, group: Group, settings: EvolveSettings, repeat: int,
                     notes: list[str]) -> AnalysisRecord | None:
    steps = max(settings.analysis_steps, 2)
    messages: list[Message] = [
        {"role": "system", "content": TOOL_ANALYST.format(steps=steps)},
        {"role": "user", "content": f"{group.header()}\nStart with the overview."}]
    ids = {log.id: log for log in group.logs}
    step = 0
    while step < steps - 1:  # the last call is kept for the analysis itself
        step += 1
        result = await llm.structured("optimizer", messages, AnalystAction, repeat=repeat)
        act = result.value
        if act is None:
            notes.append(f"step {step}: unusable action ({result.error}); logs go in context instead")
            return None
        messages.append({"role": "assistant", "content": act.model_dump_json(exclude_defaults=True)})
        if act.action == "final":
            if len(clean_recommendations(act.recommendations)) >= 3:
                return _record(group, act, "tools", step, notes)
            break
        if act.action == "case":
            log = ids.get(act.id.strip())
            observation = log.full_case() if log else f"No example {act.id!r}. Known ids: {', '.join(ids)}"
        else:
            observation = overview_page(group, act.page, settings.overview_page_size)
        messages.append({"role": "user", "content": observation})
    else:
        notes.append(f"step cap reached after {step} tool calls")
    messages.append({"role": "user", "content": "Now write your analysis: what worked, what failed, and "
                                                "3-5 recommendations."})
    final = await llm.structured("optimizer", messages, ClusterAnalysis, repeat=repeat)
    if final.value is None:
        notes.append(f"unusable analysis ({final.error}); logs go in context instead")
        return None
    return _record(group, final.value, "tools", step + 1, notes)


async def _in_context(llm: LLM, group: Group, settings: EvolveSettings, repeat: int,
                      notes: list[str]) -> AnalysisRecord:
    messages: list[Message] = [
        {"role": "system", "content": CONTEXT_ANALYST},
        {"role": "user",
         "content": f"{group.header()}\n\n{context_logs(group, settings.analysis_context_chars)}"}]
    result = await llm.structured("optimizer", messages, ClusterAnalysis, repeat=repeat, cuttable_index=1)
    if result.value is None:
        notes.append(f"in-context analysis unusable ({result.error})")
        return _failed(group, 1, notes)
    return _record(group, result.value, "context", 1, notes)


async def analyze_group(llm: LLM, group: Group, settings: EvolveSettings, *,
                        repeat: int = 0) -> AnalysisRecord:
    """A record always comes back; `mode="failed"` (no recommendations) when the model gave nothing usable."""
    notes: list[str] = []
    if settings.analysis_mode == "tools":
        try:
            record = await _tool_loop(llm, group, settings, repeat, notes)
        except TransientLLMError:
            raise
        except LLMError as exc:  # e.g. the growing transcript no longer fits the context
            notes.append(f"tool loop stopped: {str(exc)[:120]}; logs go in context instead")
            record = None
        if record is not None:
            return record
    try:
        return await _in_context(llm, group, settings, repeat, notes)
    except TransientLLMError:
        raise
    except LLMError as exc:
        notes.append(f"analysis call failed: {str(exc)[:120]}")
        return _failed(group, 0, notes)


def groups_from_clusters(logs: Sequence[ExampleLog], clusters: Sequence[ClusterRecord]) -> list[Group]:
    by_id = {log.id: log for log in logs}
    return [Group(c.id, c.label, c.description, [by_id[m] for m in c.members if m in by_id])
            for c in clusters]
