"""A tiny synthetic world for optimizer tests: the answer is a locker code said once in the source."""

from __future__ import annotations

import re

from clue.bench.data.records import Pair, Turn
from clue.bench.scorers.judge import JudgeFn
from clue.bench.scorers.score import Score
from clue.llm.types import Message
from clue.memory.inject import SOLVER_BASE
from clue.memory.render import EXTRACTION_INSTRUCTION

CODE = re.compile(r"W\d+")


def make_pairs(n: int) -> list[Pair]:
    return [Pair(dataset="synth", subset="synth", source_id=i, target_id=1000 + i,
                 source_messages=[Turn(role="user", content=f"My locker code is W{i}. I like tea."),
                                  Turn(role="assistant", content="Noted.")],
                 target={"question": "What is my locker code?", "answer": f"W{i}"}) for i in range(n)]


class FakeTask:
    def query_messages(self, pair: Pair) -> list[Message]:
        return [{"role": "user", "content": pair.target["question"]}]

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        expected = pair.target["answer"]
        ok = f"<answer>{expected}</answer>" in solver_text
        return Score(1.0 if ok else 0.0, f"expected {expected}")


def locker_reply(system: str, user: str) -> str | None:
    """Extractor keeps the code for even ids, or always under a prompt saying EXACT CODES; the solver echoes
    the code its memory holds. None for any other kind of call."""
    if user.startswith(EXTRACTION_INSTRUCTION):
        code = CODE.search(user)
        assert code is not None
        if "EXACT CODES" in system or int(code.group()[1:]) % 2 == 0:
            return f"1. The user's locker code is {code.group()}."
        return "1. The user likes tea."
    if system.startswith(SOLVER_BASE):
        found = CODE.search(system)
        return f"<answer>{found.group() if found else 'none'}</answer>"
    return None
