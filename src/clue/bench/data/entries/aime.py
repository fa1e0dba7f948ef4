"""AIME (2024, 2025 and 2020-2024, scored as one dataset): the answer is an integer."""

from clue.bench.data.entries.code_rounds import CODE_ROUNDS, code_rounds_scorer
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import ProblemTarget

ENTRIES = (
    DatasetEntry("AIME", "problem-solving", False, ("AIME_2024", "AIME_2025", "AIME_2020_2024"), ProblemTarget,
                 CODE_ROUNDS, code_rounds_scorer("IntegerProblemTask", "the final integer"), rank=1),
)
