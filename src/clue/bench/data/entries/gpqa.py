"""GPQA-Diamond (OOD, 198 questions): multiple choice in code rounds; at most 3 runs, as the reference."""

from clue.bench.data.entries.code_rounds import CODE_ROUNDS, code_rounds_scorer
from clue.bench.data.entry import DatasetEntry, RepeatsRule
from clue.bench.data.records import ProblemTarget

ENTRIES = (
    DatasetEntry("GPQA_Diamond", "problem-solving", True, ("GPQA_Diamond",), ProblemTarget, CODE_ROUNDS,
                 code_rounds_scorer("LetteredProblemTask", "option letter"), repeats=RepeatsRule(max_runs=3),
                 rank=6),
)
