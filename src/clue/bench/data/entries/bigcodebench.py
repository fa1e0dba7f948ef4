"""BigCodeBench: one solution (up to 1,280 tokens), run against the task's unit tests in the sandbox
(`clue.bench.sandbox.bigcodebench.missing` says what a machine lacks for it)."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.data.records import BigCodeBenchTarget

ENTRIES = (
    DatasetEntry("bigcodebench", "problem-solving", False, ("bigcodebench",), BigCodeBenchTarget,
                 SolverSettings("code_tests", "system", max_tokens=1280),
                 ScorerChoice("clue.bench.scorers.tasks:OutcomeTask", "unit tests, all must pass"),
                 resources="code_tests", rank=5),
)
