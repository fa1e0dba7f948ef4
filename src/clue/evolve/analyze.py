"""Analyze one group of examples: a CluE cluster alone, or MemEvolve's whole batch.

The analyst sees the prompt under analysis and reads the group's logs through two tools, run as a
JSON-action loop over `llm.structured` (up to `analysis_steps` calls, the reference's 20 by default):
  {"action": "overview", "page": n}  one line per example: id, outcome, scenario, memory snippet;
  {"action": "case", "id": "e03"}    one example in full (source, memory, target query, solver, outcome);
  {"action": "final", ...}           the report.
What the report holds depends on the brief: CluE's cluster analyst writes a success analysis, a failure
analysis and 3-5 targeted recommendations; MemEvolve's global analyst writes key failure patterns, key
success patterns, 3-7 recommendations and overfitting risks. Fields are free-form unless
`analysis_text_chars` caps them. On an unusable reply, or when `analysis_mode="context"`, the logs go into
one prompt instead, cut to `analysis_context_chars`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from clue.evolve.protocol import EvolveSettings
from clue.evolve.replies import Replies, ReplyCounts
from clue.evolve.state import AnalysisRecord, ClusterRecord
from clue.evolve.summarize import ExampleLog, clip
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError
from clue.memory.prompts import ExtractionPrompt


@dataclass(frozen=True)
class AnalystBrief:
    """What one kind of analyst is asked for; the tool loop is shared."""

    role: str  # first paragraph of the system prompt
    report: str  # what the report must contain
    min_recommendations: int
    max_recommendations: int
    risks: bool = False


CLUSTER_BRIEF = AnalystBrief(
    role="You analyze ONE cluster of memory-extraction examples that share an extraction scenario. An "
         "extractor turned each source conversation into a memory under the prompt shown below; a solver then "
         "used the memory on a target query. Inspect only this cluster's examples, and make your analysis "
         "specific to its scenario, not generic. Improve only the extraction prompt: no changes to the "
         "system around it, no online memory updates.",
    report="Your report has three parts. Success analysis (high-reward examples): did the memory help the "
           "target, how, and what made it useful (abstraction level, specificity, type of information, "
           "transferability)? Failure analysis (low-reward examples): what memory would have served the "
           "target better, and what was missing or ineffective (key information missing, too specific, too "
           "vague, not transferable)? Then 3-5 recommendations: concrete changes to the extraction prompt for "
           "this scenario.",
    min_recommendations=3, max_recommendations=5)


def _cap(limit: int | None) -> Any:
    """A free-form string, or one cut to `limit` with the bound in the JSON schema (a grammar for local
    models; keep it well under 1000, llama.cpp grammars reject longer repetitions)."""
    return str if limit is None else Annotated[str, clip(limit), Field(max_length=limit)]


@functools.lru_cache(maxsize=16)
def report_models(limit: int | None, most: int, least: int) -> tuple[type[BaseModel], type[BaseModel]]:
    """(tool action, final report) models for a text cap and a number of recommendations."""
    text, advice = _cap(limit), _cap(None if limit is None else max(limit // 2, 80))
    recs = Annotated[list[advice], clip(most)]  # type: ignore[valid-type]
    kinds: Any = Literal["overview", "case", "final"]
    action = create_model(
        "AnalystAction", action=(kinds, ...), page=(int, 1),
        id=(Annotated[str, clip(20), Field(max_length=20)], ""), success_analysis=(text, ""),
        failure_analysis=(text, ""), recommendations=(recs, Field(default_factory=list, max_length=most)),
        risks=(text, ""))
    final = create_model(
        "AnalysisReport", success_analysis=(text, ...), failure_analysis=(text, ...),
        recommendations=(recs, Field(min_length=least, max_length=most)), risks=(text, ""))
    return action, final


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
        return (f"Group {self.key}: {self.label}. {self.description}\n{len(self.logs)} examples "
                f"({', '.join(log.id for log in self.logs)}): {self.successes} successes, "
                f"{len(self.logs) - self.successes} failures.")


def _fields(brief: AnalystBrief) -> str:
    risks = ', "risks": "..."' if brief.risks else ""
    return ('"success_analysis": "...", "failure_analysis": "...", "recommendations": ["...", ...]' + risks)


def tool_system(brief: AnalystBrief, prompt: ExtractionPrompt, steps: int) -> str:
    return (f"{brief.role}\n\nPrompt under analysis:\n<prompt>\n{prompt.text.strip()}\n</prompt>\n\n"
            f"{brief.report}\n\n"
            "Read the logs with tools. Reply each turn with one JSON object and nothing else:\n"
            '{"action": "overview", "page": 1} lists examples: id, outcome, scenario, memory snippet.\n'
            '{"action": "case", "id": "e01"} opens one example in full: source, memory, target query, what '
            "the solver did, outcome.\n"
            f'{{"action": "final", {_fields(brief)}}} ends with your report.\n'
            f"You have at most {steps} turns.")


def context_system(brief: AnalystBrief, prompt: ExtractionPrompt) -> str:
    return (f"{brief.role}\n\nPrompt under analysis:\n<prompt>\n{prompt.text.strip()}\n</prompt>\n\n"
            f"{brief.report}\nThe logs follow.\nReply with JSON only: {{{_fields(brief)}}}")


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


def clean_recommendations(items: Sequence[str], most: int) -> list[str]:
    """Drop fragments (fewer than 3 words) and repeats, which small constrained models produce."""
    kept: list[str] = []
    for item in items:
        text = " ".join(item.split())
        if len(text.split()) >= 3 and text.lower() not in {k.lower() for k in kept}:
            kept.append(text)
    return kept[:most]


def _record(group: Group, report: Any, mode: str, steps: int, notes: list[str],
            brief: AnalystBrief) -> AnalysisRecord:
    return AnalysisRecord(key=group.key, label=group.label, size=len(group.logs), successes=group.successes,
                          success_analysis=report.success_analysis.strip(),
                          failure_analysis=report.failure_analysis.strip(),
                          recommendations=clean_recommendations(report.recommendations, brief.max_recommendations),
                          risks=report.risks.strip() if brief.risks else "", mode=mode, steps=steps,
                          notes=notes)


def _failed(group: Group, steps: int, notes: list[str]) -> AnalysisRecord:
    return AnalysisRecord(key=group.key, label=group.label, size=len(group.logs), successes=group.successes,
                          mode="failed", steps=steps, notes=notes)


async def _tool_loop(llm: LLM, group: Group, prompt: ExtractionPrompt, settings: EvolveSettings,
                     brief: AnalystBrief, repeat: int, notes: list[str], replies: Replies) -> AnalysisRecord | None:
    steps = max(settings.analysis_steps, 2)
    action_model, report_model = report_models(settings.analysis_text_chars, brief.max_recommendations,
                                               brief.min_recommendations)
    messages: list[Message] = [
        {"role": "system", "content": tool_system(brief, prompt, steps)},
        {"role": "user", "content": f"{group.header()}\nStart with the overview."}]
    ids = {log.id: log for log in group.logs}
    step = 0
    while step < steps - 1:  # the last call is kept for the report itself
        step += 1
        result = await replies.ask(llm, "analysis", messages, action_model, repeat=repeat)
        act: Any = result.value
        if act is None:
            notes.append(f"step {step}: unusable action ({result.error}); logs go in context instead")
            return None
        messages.append({"role": "assistant", "content": act.model_dump_json(exclude_defaults=True)})
        if act.action == "final":
            if len(clean_recommendations(act.recommendations, brief.max_recommendations)) >= \
                    brief.min_recommendations:
                return _record(group, act, "tools", step, notes, brief)
            break
        if act.action == "case":
            log = ids.get(act.id.strip())
            observation = log.full_case() if log else f"No example {act.id!r} here. Known ids: {', '.join(ids)}"
        else:
            observation = overview_page(group, act.page, settings.overview_page_size)
        messages.append({"role": "user", "content": observation})
    else:
        notes.append(f"step cap reached after {step} tool calls")
    messages.append({"role": "user", "content": "Now write your report, with "
                     f"{brief.min_recommendations}-{brief.max_recommendations} recommendations."})
    final = await replies.ask(llm, "analysis", messages, report_model, repeat=repeat)
    if final.value is None:
        notes.append(f"unusable report ({final.error}); logs go in context instead")
        return None
    return _record(group, final.value, "tools", step + 1, notes, brief)


async def _in_context(llm: LLM, group: Group, prompt: ExtractionPrompt, settings: EvolveSettings,
                      brief: AnalystBrief, repeat: int, notes: list[str], replies: Replies) -> AnalysisRecord:
    _, report_model = report_models(settings.analysis_text_chars, brief.max_recommendations,
                                    brief.min_recommendations)
    messages: list[Message] = [
        {"role": "system", "content": context_system(brief, prompt)},
        {"role": "user",
         "content": f"{group.header()}\n\n{context_logs(group, settings.analysis_context_chars)}"}]
    result = await replies.ask(llm, "analysis", messages, report_model, repeat=repeat, cuttable_index=1)
    if result.value is None:
        notes.append(f"in-context analysis unusable ({result.error})")
        return _failed(group, 1, notes)
    return _record(group, result.value, "context", 1, notes, brief)


async def analyze_group(llm: LLM, group: Group, prompt: ExtractionPrompt, settings: EvolveSettings, *,
                        brief: AnalystBrief = CLUSTER_BRIEF, repeat: int = 0,
                        replies: Replies | None = None) -> AnalysisRecord:
    """A record always comes back; `mode="failed"` (nothing to act on) when the model gave nothing usable.
    Every unusable reply (a tool-loop step, the report, the in-context fallback) is counted under "analysis"."""
    notes: list[str] = []
    replies = replies if replies is not None else settings.replies(ReplyCounts())
    if settings.analysis_mode == "tools":
        try:
            record = await _tool_loop(llm, group, prompt, settings, brief, repeat, notes, replies)
        except TransientLLMError:
            raise
        except LLMError as exc:  # e.g. the growing transcript no longer fits the context
            notes.append(f"tool loop stopped: {str(exc)[:120]}; logs go in context instead")
            record = None
        if record is not None:
            return record
    try:
        return await _in_context(llm, group, prompt, settings, brief, repeat, notes, replies)
    except TransientLLMError:
        raise
    except LLMError as exc:
        notes.append(f"analysis call failed: {str(exc)[:120]}")
        return _failed(group, 0, notes)


def groups_from_clusters(logs: Sequence[ExampleLog], clusters: Sequence[ClusterRecord]) -> list[Group]:
    by_id = {log.id: log for log in logs}
    return [Group(c.id, c.label, c.description, [by_id[m] for m in c.members if m in by_id])
            for c in clusters]
