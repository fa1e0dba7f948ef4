"""Pull the final answer out of a solver reply.

The solver is asked to finish with `<answer>...</answer>`. Replies that ignore that are still read, in
order of preference, from a `FINAL ANSWER:` line, then from the last `\\boxed{...}`, then, when the whole
reply is one short line, from the reply itself.
"""

from __future__ import annotations

import re

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
# Only at the start of a line, so code such as print(f"Final answer: {x}") is not taken for a marker.
_FINAL_ANSWER = re.compile(r"^[ \t#>*_-]*final\s+answer[*_ \t]*[:：]", re.IGNORECASE | re.MULTILINE)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_BARE_REPLY_MAX_CHARS = 120


def extract_answer(text: str) -> str | None:
    """The final answer in `text`, stripped, or None when the reply has none."""
    text = _THINK_BLOCK.sub("", text)
    tagged = [m.group(1).strip() for m in _ANSWER_TAG.finditer(text) if m.group(1).strip()]
    if tagged:
        return tagged[-1]
    final_line = _after_final_answer_marker(text)
    if final_line:
        return final_line
    boxed = last_boxed(text)
    if boxed:
        return boxed.strip()
    stripped = text.strip()
    if stripped and "\n" not in stripped and len(stripped) <= _BARE_REPLY_MAX_CHARS:
        return stripped
    return None


def _after_final_answer_marker(text: str) -> str | None:
    """The text after the last `FINAL ANSWER:` marker: the rest of its line, else the next non-empty line."""
    markers = list(_FINAL_ANSWER.finditer(text))
    if not markers:
        return None
    rest = text[markers[-1].end():]
    for raw_line in rest.splitlines():
        line = re.sub(r"</?answer>", "", raw_line, flags=re.IGNORECASE).strip().strip("*").strip()
        if line:
            return line
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), with nested braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None  # unbalanced: cut off mid-answer


_WRAPPERS = (
    re.compile(r"^\\boxed\{(.*)\}$", re.DOTALL),
    re.compile(r"^\\text(?:bf)?\{(.*)\}$", re.DOTALL),
    re.compile(r"^\$+(.*?)\$+$", re.DOTALL),
    re.compile(r"^\\\((.*)\\\)$", re.DOTALL),
    re.compile(r"^\\\[(.*)\\\]$", re.DOTALL),
    re.compile(r"^\*\*(.*)\*\*$", re.DOTALL),
    re.compile(r"^`+(.*?)`+$", re.DOTALL),
)


def strip_wrappers(answer: str) -> str:
    """Remove LaTeX/markdown wrappers such as `$...$`, `\\boxed{...}`, `**...**`, repeatedly."""
    answer = answer.strip()
    changed = True
    while changed:
        changed = False
        for wrapper in _WRAPPERS:
            match = wrapper.match(answer)
            if match:
                answer = match.group(1).strip()
                changed = True
    return answer
