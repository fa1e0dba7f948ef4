"""Game of 24: combine four numbers into 24 (code rounds; the expression is checked)."""

from clue.bench.data.entries.code_rounds import CODE_ROUNDS, code_rounds_scorer
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import ProblemTarget

ENTRIES = (
    DatasetEntry("GameOf24", "problem-solving", False, ("GameOf24",), ProblemTarget, CODE_ROUNDS,
                 code_rounds_scorer("Game24Task", "the expression uses the four numbers and makes 24"), rank=0),
)
