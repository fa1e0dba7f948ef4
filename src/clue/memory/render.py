"""Render a source for the extractor: role-tagged turns inside a conversation tag.

One function for every kind of source: a trajectory is shown turn by turn as the released agentic sources
are (system, task, each action and observation, then the outcome line), so the extractor sees the same
text whether a trajectory was read from BEHEMOTH or recorded by clue's own episode solver.

The layout is the reference's: one `<role>content</role>` per turn, content as it is (an empty system turn
stays an empty tag), turns joined by newlines. The extractor's user turn is one instruction line (our own
wording) and then that conversation, as the reference sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clue.llm.types import Message
from clue.memory.sources import Conversation, Trajectory, conversation

SourceLike = Conversation | Trajectory | Iterable[Mapping[str, str]]


def render_source(source: SourceLike) -> str:
    if not isinstance(source, Conversation | Trajectory):
        source = conversation(source)
    body = "\n".join(f"<{turn.role}>{turn.content}</{turn.role}>" for turn in source.as_turns())
    return f"<conversation>\n{body}\n</conversation>"


def render_conversation(turns: Iterable[Mapping[str, str]]) -> str:
    """A plain list of chat turns (kept for callers that hold no typed source)."""
    return render_source(turns)


EXTRACTION_INSTRUCTION = ("Read the conversation below and extract memories from it that will be reusable later, "
                          "as the system instructions describe.")


def extraction_user_turn(source: SourceLike) -> str:
    return f"{EXTRACTION_INSTRUCTION}\n\n{render_source(source)}"


def extraction_messages(prompt_text: str, source: SourceLike) -> list[Message]:
    """System = the extraction prompt under optimization; user = the instruction line and the rendered
    source (the user turn is the one that may be cut to fit the context)."""
    return [{"role": "system", "content": prompt_text},
            {"role": "user", "content": extraction_user_turn(source)}]
