"""MemBench (high- and low-level questions): a question about the user with four lettered choices."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.data.records import ChoiceTarget

# The reference asks for the bare letter; the memory goes in the user turn, before the question.
_SOLVER = SolverSettings("single_turn", "user", max_tokens=512)
_SCORER = ScorerChoice("clue.bench.scorers.tasks:MemBenchTask", "option letter (a bare letter is asked for)")

ENTRIES = tuple(
    DatasetEntry(name, "personalization", False, (name,), ChoiceTarget, _SOLVER, _SCORER,
                 all_targets_at_test=True, rank=rank)
    for rank, name in enumerate(("membench-high", "membench-low"))
)
