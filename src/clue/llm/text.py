"""Text clean-up applied to every model reply."""

from __future__ import annotations

import re

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_UNCLOSED_THINK = re.compile(r"<think>.*\Z", re.DOTALL | re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """Remove reasoning blocks. A reply cut off inside <think> has no answer left, so it becomes empty;
    callers tell that case apart with `ends_inside_thinking` and record it as truncated."""
    text = _THINK_BLOCK.sub("", text)
    text = _UNCLOSED_THINK.sub("", text)
    # Some servers drop the opening tag and return only "...</think>answer".
    if "</think>" in text.lower():
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    return text.strip()


def ends_inside_thinking(text: str) -> bool:
    """True when the reply opened a <think> block that it never closed."""
    lowered = text.lower()
    return lowered.rfind("<think>") > lowered.rfind("</think>")
