"""Synthesize analyses into a candidate prompt, in one of two modes.

- `rewrite` (the reference): the synthesizer writes the whole new prompt (JSON: candidate id, system prompt,
  rationale) from the full analyses, told to prefer targeted, high-impact changes over a rewrite.
- `edits` (a clue option): it returns a short list of edits against the base prompt's `## ` sections,
  each `replace` (new body) or `append` (added to the body); an unknown section is added before
  `## Output format`. Untouched sections keep their exact bytes, so the diff shows only the edits.

CluE's and MemEvolve's synthesizers differ only in their instructions (`CLUE_SYNTHESIZER`,
`clue.evolve.memevolve.MEMEVOLVE_GENERATOR`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from clue.evolve.replies import Replies, or_default
from clue.evolve.state import AnalysisRecord, EditRecord
from clue.evolve.summarize import clip
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError
from clue.memory.prompts import ExtractionPrompt

_HEADING = re.compile(r"^##\s+\S")
_PLACEHOLDER = re.compile(r"^\s*no\b.*\b(yet|defined)\b.*$", re.IGNORECASE)
LAST_SECTIONS = ("output format",)


class Edit(BaseModel):
    section: Annotated[str, clip(80), Field(max_length=80)]
    operation: Literal["replace", "append"] = "append"
    # No maxLength here: a grammar would cut the text mid-sentence (and llama.cpp rejects long bounds). A
    # reply that runs into the token limit is caught by the truncation guardrail instead.
    text: Annotated[str, clip(3000)]


class SynthesisReply(BaseModel):
    edits: Annotated[list[Edit], clip(5)] = Field(min_length=1, max_length=5)
    rationale: Annotated[str, clip(200), Field(max_length=200)] = ""


class RewriteReply(BaseModel):
    """The reference's candidate object: the whole new system prompt."""

    candidate_id: str = ""
    system_prompt: str = Field(min_length=1)
    rationale: str = ""


@dataclass
class Section:
    heading: str  # the "## ..." line, without newline; "" for the preamble
    body: str  # raw text after the heading line, newlines included

    @property
    def key(self) -> str:
        return normalize_heading(self.heading)


def normalize_heading(heading: str) -> str:
    return " ".join(heading.strip().lstrip("#").strip().rstrip(":").lower().split())


def split_sections(text: str) -> list[Section]:
    sections = [Section("", "")]
    for line in text.splitlines(keepends=True):
        if _HEADING.match(line):
            sections.append(Section(line.rstrip("\n"), ""))
        else:
            sections[-1].body += line
    return sections


def join_sections(sections: Sequence[Section]) -> str:
    return "".join((s.heading + "\n" if s.heading else "") + s.body for s in sections)


def section_names(text: str) -> list[str]:
    return [s.heading for s in split_sections(text) if s.heading]


def _find(sections: list[Section], name: str) -> Section | None:
    key = normalize_heading(name)
    for section in sections:
        if section.heading and section.key == key:
            return section
    for section in sections:
        if section.heading and key and (section.key.startswith(key) or key.startswith(section.key)):
            return section
    return None


def _body(text: str, heading: str) -> str:
    """Drop a repeated heading line the model may have put at the top of its text."""
    lines = text.strip("\n").splitlines()
    first = lines[0] if lines else ""
    if first.lstrip().startswith("#") and normalize_heading(first) == normalize_heading(heading):
        lines = lines[1:]
    return "\n".join(lines).strip("\n")


def apply_edits(base_text: str, edits: Sequence[Edit | EditRecord]) -> tuple[str, list[str]]:
    """The edited text and one note per edit (applied, or why not)."""
    sections = split_sections(base_text)
    notes: list[str] = []
    for edit in edits:
        name = edit.section.strip()
        if not name or not edit.text.strip():
            notes.append(f"skipped an empty edit ({name or 'no section'})")
            continue
        target = _find(sections, name)
        if target is None:
            heading = "## " + name.lstrip("#").strip()
            new = Section(heading, _body(edit.text, heading) + "\n\n")
            at = next((i for i, s in enumerate(sections) if s.key in LAST_SECTIONS), len(sections))
            if at == len(sections) and sections[-1].body and not sections[-1].body.endswith("\n\n"):
                sections[-1].body = sections[-1].body.rstrip("\n") + "\n\n"
            sections.insert(at, new)
            notes.append(f"added section {heading}")
            continue
        trail = "\n\n" if target is not sections[-1] else "\n"
        text = _body(edit.text, target.heading)
        old = target.body.strip("\n")
        if edit.operation == "replace" or not old or (_PLACEHOLDER.match(old) and "\n" not in old):
            target.body = text + trail
            notes.append(f"replaced {target.heading}")
        else:
            target.body = old + "\n" + text + trail
            notes.append(f"appended to {target.heading}")
    result = join_sections(sections)
    return (result if result.endswith("\n") else result + "\n"), notes


CLUE_SYNTHESIZER = """You improve a memory-extraction system prompt using analysis reports from several groups \
of examples, each group a different extraction scenario. Produce ONE improved prompt that handles all of \
these scenarios.
How to combine the reports:
1. Advice that recurs across groups becomes general extraction guidelines that hold for every kind of memory.
2. Organize group-specific advice into a taxonomy of memory categories. Give each category a short \
definition and its own extraction guidelines. Categories need not match the groups one to one: merge or \
split them so they do not overlap.
3. When groups give conflicting advice, do not force one rule: place each side under the category where \
it applies.
4. Change what matters most. Keep the parts of the current prompt that work; prefer focused additions and \
revisions to rewriting everything.
The prompt you write must be clear and direct for another model to follow, organized in explicit sections, \
and use concrete verbs (extract, keep, drop, merge) rather than vague ones; short examples are fine where \
they remove doubt. Never copy text from the examples."""

EDIT_FORMAT = """Reply with edits to the current prompt's sections, not a new prompt. Each edit names a \
section and is "replace" (new body) or "append" (added lines); an unknown section is added as a new one. \
At most {max_edits} edits.
Reply with JSON only: {{"edits": [{{"section": "## Memory types", "operation": "replace", "text": "..."}}], \
"rationale": "one sentence"}}"""

REWRITE_FORMAT = """Reply with JSON only, no other text: {"candidate_id": "cand_01", "system_prompt": "<the \
complete new prompt>", "rationale": "<which insights drove the changes>"}. The prompt must not be empty."""


def render_analyses(analyses: Sequence[AnalysisRecord]) -> str:
    """Every analysis in full: the synthesizer reads what the analysts wrote, not a digest of it."""
    blocks = []
    for a in analyses:
        advice = "\n".join(f"- {r}" for r in a.recommendations)
        block = (f"### {a.label} ({a.size} examples, {a.successes} succeeded)\n"
                 f"Success analysis:\n{a.success_analysis or '-'}\n"
                 f"Failure analysis:\n{a.failure_analysis or '-'}\n"
                 f"Recommendations:\n{advice or '-'}")
        if a.risks:
            block += f"\nRisks:\n{a.risks}"
        blocks.append(block)
    return "\n\n".join(blocks)


def synthesis_messages(base: ExtractionPrompt, analyses: Sequence[AnalysisRecord], *, instructions: str,
                       mode: str = "rewrite", max_edits: int = 5) -> list[Message]:
    if mode == "edits":
        sections = ", ".join(section_names(base.text)) or "(none)"
        tail, head = EDIT_FORMAT.format(max_edits=max_edits), f"Current prompt (sections: {sections}):"
    else:
        tail, head = REWRITE_FORMAT, "Current prompt:"
    return [{"role": "system", "content": f"{instructions}\n{tail}"},
            {"role": "user",
             "content": f"{head}\n<prompt>\n{base.text.strip()}\n</prompt>\n\n"
                        f"Analyses ({len(analyses)}):\n{render_analyses(analyses)}"}]


@dataclass
class Synthesis:
    edits: list[Edit] = field(default_factory=list)
    rationale: str = ""
    truncated: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    text: str | None = None  # rewrite mode: the whole new prompt
    unusable: bool = False  # no candidate because an optimizer reply (this one, or its analyses) was unusable


def _edits_reply(max_edits: int) -> type[BaseModel]:
    if max_edits == 5:
        return SynthesisReply

    class Reply(SynthesisReply):
        edits: Annotated[list[Edit], clip(max_edits)] = Field(min_length=1, max_length=max_edits)

    return Reply


REFERENCE_SYNTHESIS_MAX_TOKENS = 20000  # the reference's synthesis calls against its Qwen3-32B endpoint


def synthesis_max_tokens(llm: LLM, configured: int | None) -> int | None:
    """The reply limit of a synthesis call: the setting, else the reference's 20000 on an openai endpoint,
    else (None) the optimizer role's own max_tokens."""
    if configured is not None:
        return configured
    return REFERENCE_SYNTHESIS_MAX_TOKENS if llm.config("optimizer").backend == "openai" else None


async def synthesize(llm: LLM, base: ExtractionPrompt, analyses: Sequence[AnalysisRecord], *, index: int,
                     instructions: str = CLUE_SYNTHESIZER, mode: str = "rewrite",
                     max_edits: int = 5, replies: Replies | None = None,
                     max_tokens: int | None = None) -> Synthesis:
    """One draft; `index` is the repeat index, so each draft samples differently."""
    schema: type[BaseModel] = RewriteReply if mode == "rewrite" else _edits_reply(max_edits)
    messages = synthesis_messages(base, analyses, instructions=instructions, mode=mode, max_edits=max_edits)
    try:
        result = await or_default(replies).ask(llm, "synthesis", messages, schema, repeat=index, cuttable_index=1,
                                               max_tokens=synthesis_max_tokens(llm, max_tokens))
    except TransientLLMError:
        raise
    except LLMError as exc:
        return Synthesis(error=f"synthesizer call failed: {str(exc)[:120]}")
    completion = result.completion
    truncated = bool(completion and (completion.truncated
                                     or any("token limit" in n for n in completion.notes)))
    value = result.value
    if value is None:
        return Synthesis(truncated=truncated, error=result.error or "unusable reply", notes=result.notes,
                         unusable=True)
    if isinstance(value, RewriteReply):
        text = value.system_prompt.strip()
        return Synthesis(rationale=value.rationale.strip(), truncated=truncated, notes=result.notes,
                         text=text + "\n", error=None if text else "empty prompt", unusable=not text)
    assert isinstance(value, SynthesisReply)
    return Synthesis(list(value.edits), value.rationale.strip(), truncated, None, result.notes)
