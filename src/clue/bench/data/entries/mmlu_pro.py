"""MMLU-Pro Physics and Engineering: multiple choice, options inside the problem text."""

from clue.bench.data.entries.code_rounds import CODE_ROUNDS, code_rounds_scorer
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import ProblemTarget

ENTRIES = tuple(
    DatasetEntry(name, "problem-solving", False, (name,), ProblemTarget, CODE_ROUNDS,
                 code_rounds_scorer("LetteredProblemTask", "option letter"), rank=rank)
    for rank, name in ((2, "MMLU_Pro_Physics"), (3, "MMLU_Pro_Engineering"))
)
