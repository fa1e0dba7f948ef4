"""PersonaMem-v2: a conversation chunk of up to 5k tokens, and multiple-choice questions about the reply
the user would find most appropriate (`user_query`, `correct_answer`, a `choices` list)."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.data.records import PersonaMemTarget

ENTRIES = (
    DatasetEntry("personamem-v2", "personalization", False, ("personamem-v2-val",), PersonaMemTarget,
                 SolverSettings("single_turn", "system", max_tokens=512),
                 ScorerChoice("clue.bench.scorers.tasks:PersonaMemTask", "option letter"),
                 all_targets_at_test=True, rank=2),
)
