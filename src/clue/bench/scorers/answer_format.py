"""Answer formats as llama.cpp grammars: what a task's final answer may look like.

On the embedded backend the solver's reply is held to its task's format, so a small model that would
write `<C>Flask</C>` or `<B></answer>` writes `<answer>B</answer>` instead. A task that asks for
reasoning before the answer allows up to `reasoning_chars` of free text first (no `<` in it, so the only
tag the model can open is `<answer>`); the bound makes even a rambling model reach its answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

AnswerKind = Literal["letter", "integer", "expression", "equation"]

# What may stand between the tags, per kind. Lengths are bounded so a model cannot loop inside the tag.
_ANSWER_RULES: dict[AnswerKind, str] = {
    "integer": '"-"? [0-9]{1,12}',
    "expression": "[-0-9()+*/ ]{1,48}",
    "equation": "[-0-9()+*/= ]{1,64}",
}
# llama.cpp unrolls a bounded repetition into that many rules; keep well below where it breaks (~2000).
MAX_REASONING_CHARS = 1000


@dataclass(frozen=True)
class AnswerFormat:
    """`tags` wrap the answer as the task's prompt asks (`("", "")`: the bare answer, as MemBench asks)."""

    kind: AnswerKind
    letters: tuple[str, ...] = ()  # kind "letter": the option letters that exist
    reasoning_chars: int = 0  # free text allowed before the opening tag (needs a tag that opens with `<`)
    tags: tuple[str, str] = ("<answer>", "</answer>")

    def grammar(self) -> str:
        """The GBNF grammar of a reply: [free text,] then OPEN ANSWER CLOSE."""
        if self.kind == "letter":
            if not self.letters:
                raise ValueError("a letter answer format needs the option letters")
            answer = " | ".join(f'"{letter}"' for letter in self.letters)
        else:
            answer = _ANSWER_RULES[self.kind]
        opening, closing = self.tags
        reasoning = min(self.reasoning_chars, MAX_REASONING_CHARS) if opening.startswith("<") else 0
        parts = ["prose" if reasoning else "", _literal(opening), '" "? answer " "?', _literal(closing)]
        rules = f"root ::= {' '.join(p for p in parts if p)}\nanswer ::= {answer}\n"
        return rules + (f"prose ::= [^<]{{0,{reasoning}}}\n" if reasoning else "")


def _literal(text: str) -> str:
    return f'"{text}"' if text else ""


def letter_format(letters: Iterable[str], *, reasoning_chars: int = 0,
                  tags: tuple[str, str] = ("<answer>", "</answer>")) -> AnswerFormat:
    return AnswerFormat("letter", tuple(sorted({letter.strip().upper() for letter in letters})),
                        reasoning_chars=reasoning_chars, tags=tags)
