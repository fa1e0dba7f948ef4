"""A tiny synthetic world for optimizer tests: the answer is a locker code said once in the source."""

from __future__ import annotations

from clue.bench.records import Pair, Turn
from clue.bench.scorers.judge import JudgeFn
from clue.bench.scorers.score import Score
from clue.llm.types import Message


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
