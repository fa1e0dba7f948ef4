"""LongMemEval (single-session oracle subset, OOD): an open question answered step by step, graded by an
LLM judge that sees the whole answer; one run per source (judge cost)."""

from clue.bench.data.entry import DatasetEntry, RepeatsRule, ScorerChoice, SolverSettings
from clue.bench.data.records import LongMemEvalTarget

ENTRIES = (
    DatasetEntry("longmemeval", "personalization", True, ("longmemeval",), LongMemEvalTarget,
                 SolverSettings("single_turn", "user", max_tokens=512),
                 ScorerChoice("clue.bench.scorers.tasks:JudgedQuestionTask",
                              "LLM judge (one yes/no) against the reference answer", judge_max_tokens=10),
                 repeats=RepeatsRule(single_run=True), all_targets_at_test=True, rank=4),
)
