"""The retrieved-memory block the solver sees, in the system prompt or in the user turn.

The wording is ours; the intent is the reference's: a titled block of memories from earlier interactions,
to be used when relevant and ignored when not. An empty memory (the no-memory control, or an extraction
that wrote nothing) adds no block at all.
"""

from __future__ import annotations

SOLVER_BASE = "You are a careful assistant. Solve the task you are given."

MEMORY_BLOCK = """## Retrieved memory
The notes below were saved from an earlier conversation. Use them when they bear on the task; \
ignore them when they are unrelated.
<memory>
{memory}
</memory>"""

# The user-turn form (MemBench, LongMemEval in the reference): the question is asked in the light of
# past conversations with the same user, and the block comes before it.
USER_TURN_LEAD = "Answer the question below using what you recall from your past conversations with the user."


def memory_block(memory: str | None) -> str:
    """The block alone, or "" when there is no memory."""
    return MEMORY_BLOCK.format(memory=memory.strip()) if memory is not None and memory.strip() else ""


def solver_system_prompt(memory: str | None, base: str = SOLVER_BASE) -> str:
    """`base`, followed by the memory block when there is memory."""
    block = memory_block(memory)
    return f"{base}\n\n{block}" if block else base


def memory_user_turn(memory: str | None, question: str) -> str:
    """The question with the memory block before it (the user-turn placement); the bare question without."""
    block = memory_block(memory)
    return f"{USER_TURN_LEAD}\n\n{block}\n\n{question}" if block else question
