"""Synthesize analyses into a candidate prompt: the model returns section edits, applied deterministically.

The synthesizer never rewrites the prompt. It returns a short list of edits against the base prompt's
`## ` sections, each `replace` (new body) or `append` (added to the body); an unknown section is added as
a new section before `## Output format`. Untouched sections keep their exact bytes, so the diff against the
parent shows only the edits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from clue.evolve.state import AnalysisRecord, EditRecord
from clue.evolve.summarize import clip, one_line
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


SYNTHESIZER = """You improve a memory-extraction prompt. You get the prompt and analyses of example groups, \
each with recommendations. Propose targeted edits, not a rewrite:
- advice shared by several groups becomes a general guideline under "## Guidelines";
- build a taxonomy of memory types under "## Memory types": each type gets a name, when to use it, \
and its own guidelines;
- when advice conflicts, put each side under the memory type where it applies;
- keep edits short and general; never copy text from the examples.
Each edit names one existing section and is "replace" (new body) or "append" (added lines).
Reply with JSON only: {"edits": [{"section": "## Memory types", "operation": "replace", "text": "..."}], \
"rationale": "one sentence"}"""


def render_analyses(analyses: Sequence[AnalysisRecord]) -> str:
    blocks = []
    for a in analyses:
        advice = "\n".join(f"- {one_line(r, 200)}" for r in a.recommendations)
        blocks.append(f"### {a.label} ({a.size} examples, {a.successes} succeeded)\n"
                      f"What worked: {one_line(a.success_analysis or '-', 300)}\n"
                      f"What failed: {one_line(a.failure_analysis or '-', 300)}\n"
                      f"Recommendations:\n{advice}")
    return "\n\n".join(blocks)


def synthesis_messages(base: ExtractionPrompt, analyses: Sequence[AnalysisRecord], index: int,
                       total: int) -> list[Message]:
    sections = ", ".join(section_names(base.text)) or "(none)"
    return [{"role": "system", "content": SYNTHESIZER},
            {"role": "user",
             "content": f"Current prompt (sections: {sections}):\n"
                        f"<prompt>\n{base.text.strip()}\n</prompt>\n\nAnalyses:\n{render_analyses(analyses)}\n\n"
                        f"This is draft {index + 1} of {total}: make it differ from other drafts."}]


@dataclass
class Synthesis:
    edits: list[Edit] = field(default_factory=list)
    rationale: str = ""
    truncated: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)


async def synthesize(llm: LLM, base: ExtractionPrompt, analyses: Sequence[AnalysisRecord], *, index: int,
                     total: int) -> Synthesis:
    """One draft; `index` is the repeat index, so each draft samples differently."""
    try:
        result = await llm.structured("optimizer", synthesis_messages(base, analyses, index, total),
                                      SynthesisReply, repeat=index, cuttable_index=1)
    except TransientLLMError:
        raise
    except LLMError as exc:
        return Synthesis(error=f"synthesizer call failed: {str(exc)[:120]}")
    completion = result.completion
    truncated = bool(completion and (completion.truncated
                                     or any("token limit" in n for n in completion.notes)))
    if result.value is None:
        return Synthesis(truncated=truncated, error=result.error or "unusable reply", notes=result.notes)
    return Synthesis(list(result.value.edits), result.value.rationale.strip(), truncated, None, result.notes)
