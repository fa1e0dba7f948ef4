"""Run the extractor on one source (a conversation or a trajectory) under one extraction prompt.

A reply cut off inside `<think>` (the token limit hit while reasoning) is kept whole, thinking included, as
the memory, as the reference keeps it; `--role extractor.cut_thinking=empty` makes it an empty memory with a
note instead.

A prompt may ask for a JSON reply; the solver still gets a memory string, as in the reference: a Mem0-style
`{"facts": [...]}` becomes a numbered list, and an ACE-style `{"extracted_memory": ..., "bullet_ids": [...]}`
becomes its memory text, the bullets it used recorded as a note (`CITED_NOTE`). Any other reply is kept as is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from clue.llm.client import LLM
from clue.llm.types import Completion, Message
from clue.memory.prompts import ExtractionPrompt
from clue.memory.render import SourceLike, extraction_messages

CITED_NOTE = "extractor used bullets: "
_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL | re.IGNORECASE)


def _json_object(text: str) -> dict[str, object] | None:
    candidates = [text.strip(), *(m.group(1) for m in _FENCED.finditer(text))]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def memory_from_reply(reply: str) -> tuple[str, list[str]]:
    """(memory for the solver, notes). JSON replies of known shapes are unpacked; anything else is kept."""
    parsed = _json_object(reply)
    if parsed is None:
        return reply.strip(), []
    facts = parsed.get("facts")
    if isinstance(facts, list):
        items = [f.strip() for f in facts if isinstance(f, str) and f.strip()]
        return "\n".join(f"{n}. {fact}" for n, fact in enumerate(items, start=1)), ["JSON facts turned into a list"]
    memory = parsed.get("extracted_memory")
    if isinstance(memory, str):
        ids = parsed.get("bullet_ids")
        cited = [str(i).strip() for i in ids if str(i).strip()] if isinstance(ids, list) else []
        return memory.strip(), [CITED_NOTE + ", ".join(dict.fromkeys(cited))]
    return reply.strip(), []


@dataclass
class ExtractionResult:
    memory: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # what was sent (after any cut to fit the context)
    completion: Completion | None = None  # None for the no-memory control

    @property
    def cut_in_thinking(self) -> bool:
        """The reply ended inside <think>: the token limit was too small for the reasoning to finish."""
        return self.completion is not None and self.completion.cut_in_thinking


async def extract_memory(llm: LLM, prompt: ExtractionPrompt, source: SourceLike, *,
                         repeat: int = 0) -> ExtractionResult:
    """The no-memory control makes no call. A source too long for the context is cut in the middle."""
    if prompt.is_control:
        return ExtractionResult(memory="")
    messages = extraction_messages(prompt.text, source)
    completion = await llm.chat("extractor", messages, repeat=repeat, cuttable_index=1)
    reply = completion.text
    if completion.cut_in_thinking and llm.config("extractor").cut_thinking == "raw":
        reply = completion.raw_text if completion.raw_text is not None else completion.text
    memory, notes = memory_from_reply(reply)
    return ExtractionResult(memory=memory, prompt_tokens=completion.prompt_tokens,
                            completion_tokens=completion.completion_tokens, notes=[*completion.notes, *notes],
                            messages=completion.sent_messages or messages, completion=completion)
