"""Render a source conversation for the extractor: role-tagged turns inside a conversation tag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clue.llm.types import Message


def render_conversation(turns: Iterable[Mapping[str, str]]) -> str:
    body = "\n".join(f"<{turn['role']}>\n{turn['content'].strip()}\n</{turn['role']}>" for turn in turns)
    return f"<conversation>\n{body}\n</conversation>"


def extraction_messages(prompt_text: str, turns: Iterable[Mapping[str, str]]) -> list[Message]:
    """System = the extraction prompt under optimization; user = the rendered conversation (cuttable)."""
    return [{"role": "system", "content": prompt_text},
            {"role": "user", "content": render_conversation(turns)}]
