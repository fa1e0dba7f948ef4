"""MathEquationBalancer: fill the operators between fixed numbers; the equation is checked."""

from clue.bench.data.entries.code_rounds import CODE_ROUNDS, code_rounds_scorer
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import ProblemTarget

ENTRIES = (
    DatasetEntry("MathEquationBalancer", "problem-solving", False, ("MathEquationBalancer",), ProblemTarget,
                 CODE_ROUNDS, code_rounds_scorer("EquationTask", "the completed equation holds"), rank=4),
)
