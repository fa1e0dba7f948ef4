"""Compare the chat requests two harnesses sent for the same pairs, field by field (used by reference_diff.py).

A recorded request is the JSON body of one `/chat/completions` call. Requests are grouped per conversation
(an extraction call alone; a solver episode = the calls that share their first two messages) and the groups
of the two sides are aligned in order. Per aligned request the structural fields must be equal: roles and
their order, where the memory sits, whether an example episode is shown, max_tokens, stop, temperature, top_p,
the thinking switch; per group the
number of calls. The instruction text is ours on one side and the reference's on the other, so it is only
measured (a similarity ratio), never counted as a disagreement; the tagged conversation of an extraction
request must be identical.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MEMORY_TOKEN = "MEMO-7f3a"  # every scripted memory holds it, so its position in a solver request is findable
STRUCTURAL = ("roles", "memory_at", "examples", "max_tokens", "stop", "temperature", "top_p", "thinking")
# Both sides introduce example episodes with a line such as "Here is an example:" or "Here are (some) examples:".
_EXAMPLE_INTRO = re.compile(r"(?im)^\W*here (?:is an|are(?: some)?) examples?\b")
Request = dict[str, Any]


JUDGE_MODEL = "gpt-4o-2024-08-06"  # the reference's judge; clue's judge role is given the same name
KINDS = ("extract", "solve", "judge")


def kind_of(body: Request) -> str:
    """extract | solve | judge: an extraction request carries the tagged conversation in its last message;
    a judge request names the judge model."""
    if str(body.get("model", "")) == JUDGE_MODEL:
        return "judge"
    last = str(body["messages"][-1].get("content", "")) if body.get("messages") else ""
    return "extract" if "<conversation>" in last and body["messages"][0]["role"] == "system" and len(
        body["messages"]) == 2 and MEMORY_TOKEN not in last else "solve"


def thinking_of(body: Request) -> bool | None:
    kwargs = body.get("chat_template_kwargs") or (body.get("extra_body") or {}).get("chat_template_kwargs") or {}
    value = kwargs.get("enable_thinking")
    return None if value is None else bool(value)


def memory_at(body: Request) -> str:
    """Where the memory sits: "<index>:<role>" of the first message holding it, or "none"."""
    for index, message in enumerate(body.get("messages", [])):
        if MEMORY_TOKEN in str(message.get("content", "")):
            return f"{index}:{message['role']}"
    return "none"


def stop_of(body: Request) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def has_examples(body: Request) -> bool:
    """Whether the first two messages (system prompt, first user turn) show an example episode."""
    return any(_EXAMPLE_INTRO.search(str(m.get("content", ""))) for m in body.get("messages", [])[:2])


def fields_of(body: Request) -> dict[str, Any]:
    return {"roles": [m["role"] for m in body.get("messages", [])], "memory_at": memory_at(body),
            "examples": has_examples(body),
            "max_tokens": body.get("max_tokens"), "stop": stop_of(body), "temperature": body.get("temperature"),
            "top_p": body.get("top_p"), "thinking": thinking_of(body)}


def conversation_part(body: Request) -> str:
    """The tagged conversation of an extraction request (from its opening tag on)."""
    text = str(body["messages"][-1]["content"])
    return text[text.find("<conversation>"):]


def group_requests(bodies: Iterable[Request]) -> dict[str, list[list[Request]]]:
    """Per kind, the conversations in order of their first call; a solver episode's calls share their first
    two messages (system prompt and first user turn), and so do a judge's votes on one answer."""
    groups: dict[str, dict[str, list[Request]]] = {kind: {} for kind in KINDS}
    for index, body in enumerate(bodies):
        kind = kind_of(body)
        if kind == "extract":
            groups[kind][str(index)] = [body]
            continue
        head = json.dumps(body.get("messages", [])[:2], sort_keys=True)
        key = hashlib.sha256(head.encode()).hexdigest()
        groups[kind].setdefault(key, []).append(body)
    return {kind: list(by_key.values()) for kind, by_key in groups.items()}


def text_similarity(ours: Request, theirs: Request) -> float:
    def text(body: Request) -> str:
        return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))

    return difflib.SequenceMatcher(None, text(ours), text(theirs), autojunk=False).quick_ratio()


@dataclass
class Agreement:
    """Counts of agreeing fields, and the first few disagreements, for one dataset."""

    agreed: int = 0
    compared: int = 0
    per_field: dict[str, list[int]] = field(default_factory=dict)  # field -> [agreed, compared]
    differences: list[str] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)

    def count(self, name: str, ours: Any, theirs: Any, where: str) -> None:
        same = ours == theirs
        tally = self.per_field.setdefault(name, [0, 0])
        tally[0] += same
        tally[1] += 1
        self.agreed += same
        self.compared += 1
        if not same and not any(d.startswith(f"{name}:") for d in self.differences):
            self.differences.append(f"{name}: clue {ours!r} vs reference {theirs!r} ({where})")

    @property
    def mean_similarity(self) -> float:
        return sum(self.similarity) / len(self.similarity) if self.similarity else 0.0


def compare(clue: Sequence[Request], reference: Sequence[Request], pairs: int) -> Agreement:
    """Field agreement of the first `pairs` conversations of each kind on each side."""
    ours, theirs = group_requests(clue), group_requests(reference)
    result = Agreement()
    for kind in KINDS:
        left, right = ours[kind][:pairs], theirs[kind][:pairs]
        if not left and not right:
            continue
        result.count(f"{kind} conversations", len(left), len(right), f"first {pairs}")
        for number, (a, b) in enumerate(zip(left, right, strict=False)):
            where = f"{kind} #{number}"
            result.count(f"{kind} calls per target", len(a), len(b), where)
            for call, (x, y) in enumerate(zip(a, b, strict=False)):
                fx, fy = fields_of(x), fields_of(y)
                for name in STRUCTURAL:
                    result.count(f"{kind}.{name}", fx[name], fy[name], f"{where} call {call}")
                result.similarity.append(text_similarity(x, y))
            if kind == "extract" and a and b:
                result.count("extract.conversation", conversation_part(a[0]), conversation_part(b[0]), where)
    return result


def compare_rewards(clue: Sequence[float], reference: Sequence[float], agreement: Agreement) -> None:
    agreement.count("reward count", len(clue), len(reference), "per target")
    for index, (x, y) in enumerate(zip(clue, reference, strict=False)):
        agreement.count("reward", float(x), float(y), f"target #{index}")
