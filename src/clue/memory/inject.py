"""Put a memory into the solver's system prompt as a retrieved-memory block."""

from __future__ import annotations

SOLVER_BASE = "You are a careful assistant. Solve the task you are given."

MEMORY_BLOCK = """

## Retrieved memory
The notes below were saved from an earlier conversation. Use them when they bear on the task; \
ignore them when they are unrelated.
<memory>
{memory}
</memory>"""


def solver_system_prompt(memory: str | None) -> str:
    """No memory (the control, or an empty extraction) adds no block at all."""
    if memory is None or not memory.strip():
        return SOLVER_BASE
    return SOLVER_BASE + MEMORY_BLOCK.format(memory=memory.strip())
