"""Run the extractor on one source conversation under one extraction prompt."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from clue.llm.client import LLM
from clue.memory.prompts import ExtractionPrompt
from clue.memory.render import extraction_messages


@dataclass
class ExtractionResult:
    memory: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)


async def extract_memory(llm: LLM, prompt: ExtractionPrompt, turns: Iterable[Mapping[str, str]], *,
                         repeat: int = 0) -> ExtractionResult:
    """The no-memory control makes no call. A source too long for the context is cut in the middle."""
    if prompt.is_control:
        return ExtractionResult(memory="")
    messages = extraction_messages(prompt.text, turns)
    completion = await llm.chat("extractor", messages, repeat=repeat, cuttable_index=1)
    return ExtractionResult(memory=completion.text.strip(), prompt_tokens=completion.prompt_tokens,
                            completion_tokens=completion.completion_tokens, notes=list(completion.notes))
