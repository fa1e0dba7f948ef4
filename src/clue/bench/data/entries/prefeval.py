"""PrefEval (implicit preferences, four options): the user asks in the first person for a recommendation;
the solver answers with a choice tag and no explanation, in at most 128 tokens."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.data.records import PrefEvalTarget

ENTRIES = (
    DatasetEntry("prefeval", "personalization", False, ("prefeval-mcq",), PrefEvalTarget,
                 SolverSettings("single_turn", "system", max_tokens=128),
                 ScorerChoice("clue.bench.scorers.tasks:PrefEvalTask", "option letter in a <choice> tag"),
                 all_targets_at_test=True, rank=3),
)
