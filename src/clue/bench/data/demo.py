"""The built-in demo set: original short pairs across the three categories, written for clue."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from clue.bench.data.records import Pair, Turn
from clue.bench.scorers.aime import score_integer
from clue.bench.scorers.answer_format import AnswerFormat, AnswerKind, letter_format
from clue.bench.scorers.equation import parse_question, score_equation
from clue.bench.scorers.extract import extract_answer
from clue.bench.scorers.game24 import puzzle_numbers, score_game24
from clue.bench.scorers.mcq import score_choice
from clue.bench.scorers.score import Score
from clue.bench.scorers.tasks import JudgeFn, lettered_options
from clue.errors import BadInputError
from clue.llm.types import Message

DemoScorer = Literal["mcq", "integer", "game24", "equation"]
# The demo runs on a small CPU model: the answer alone keeps replies a few tokens long. Stated once, per kind.
ANSWER_LINES: dict[str, str] = {
    "mcq": "Reply with <answer>X</answer> alone, where X is the letter of your choice.",
    "integer": "Reply with <answer>N</answer> alone, where N is the integer answer.",
    "game24": "Reply with <answer>EXPRESSION</answer> alone.",
    "equation": "Reply with <answer>THE FULL EQUATION</answer> alone.",
}
# With a reasoning budget: a short thought first, then the tag (the grammar bounds the thought's length).
REASONING_LINES: dict[str, str] = {
    "mcq": "Think in at most two short sentences, then give <answer>X</answer>, where X is the letter of your choice.",
    "integer": "Think in at most two short sentences, then give <answer>N</answer>, where N is the integer answer.",
    "game24": "Think in at most two short sentences, then give <answer>EXPRESSION</answer>.",
    "equation": "Think in at most two short sentences, then give <answer>THE FULL EQUATION</answer>.",
}
# Free text the grammar allows before <answer> in `clue demo` (0: the answer alone).
DEMO_REASONING_CHARS = 0
_FORMAT_KINDS: dict[str, AnswerKind] = {"integer": "integer", "game24": "expression", "equation": "equation"}


class DemoRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pair_id: str
    category: Literal["personalization", "problem-solving", "agentic"]
    scorer: DemoScorer
    source: list[Turn]
    target: dict[str, Any]
    oracle: str  # the one fact or trick the pair was written around: the memory that should solve it


def demo_dataset_name(category: str) -> str:
    return f"demo-{category}"


def load_demo_records() -> list[DemoRecord]:
    text = resources.files("clue.bench.data").joinpath("demo_data/demo_pairs.jsonl").read_text(encoding="utf-8")
    return [DemoRecord.model_validate_json(line) for line in text.splitlines() if line.strip()]


def load_demo_pairs() -> list[Pair]:
    pairs = []
    for index, record in enumerate(load_demo_records()):
        name = demo_dataset_name(record.category)
        pairs.append(Pair(dataset=name, subset=name, source_id=index, target_id=index,
                          source_messages=record.source,
                          target={**record.target, "scorer": record.scorer, "pair_id": record.pair_id}))
    return pairs


def split_demo(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(train, held out): two of every three pairs of each category, in file order, are held out from evolution
    (23 of the 37), so that one demo run has enough pairs to show memory's effect beyond noise."""
    seen: dict[str, int] = {}
    train: list[Pair] = []
    held_out: list[Pair] = []
    for pair in pairs:
        position = seen.get(pair.dataset, 0)
        seen[pair.dataset] = position + 1
        (train if position % 3 == 0 else held_out).append(pair)
    return train, held_out


def demo_info(dataset: str) -> tuple[str, bool]:
    return dataset.removeprefix("demo-"), False


@dataclass(frozen=True)
class DemoTask:
    reasoning_chars: int = DEMO_REASONING_CHARS  # free text before <answer> (0: the answer alone)

    def query_messages(self, pair: Pair) -> list[Message]:
        target = pair.target
        kind = target["scorer"]
        if kind == "mcq":
            body = f"{target['question']}\n\n{lettered_options(target['choices'])}"
        elif kind == "integer":
            body = target["question"]
        elif kind == "game24":
            body = f"Use the numbers {target['numbers']} once each, with + - * / and parentheses, to make 24."
        else:
            body = f"Fill each ? with one of + - * / so the equation holds (usual precedence): {target['equation']}"
        lines = REASONING_LINES if self.reasoning_chars else ANSWER_LINES
        return [{"role": "user", "content": f"{body}\n\n{lines[kind]}"}]

    def answer_format(self, pair: Pair) -> AnswerFormat:
        kind = pair.target["scorer"]
        if kind == "mcq":
            return letter_format(pair.target["choices"], reasoning_chars=self.reasoning_chars)
        return AnswerFormat(_FORMAT_KINDS[kind], reasoning_chars=self.reasoning_chars)

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        target = pair.target
        answer = extract_answer(solver_text)
        kind = target["scorer"]
        if kind == "mcq":
            return score_choice(answer, target["ground_truth"], target["choices"])
        if kind == "integer":
            return score_integer(answer, str(target["answer"]))
        if kind == "game24":
            return score_game24(answer, puzzle_numbers(target["numbers"]))
        question = parse_question(target["equation"])
        if question is None:
            raise BadInputError(f"demo pair {target['pair_id']}: unreadable equation {target['equation']!r}")
        return score_equation(answer, question)


def demo_task(dataset: str) -> DemoTask:
    return DemoTask()
