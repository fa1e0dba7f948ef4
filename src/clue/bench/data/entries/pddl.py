"""PDDL games (GMemory-style agent, up to 30 steps): memory in the system prompt, 0-shot."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS, one_line_agent
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("pddl", "agentic", False, ("pddl",), AgenticTarget,
                 one_line_agent("system", examples=0, step_cap=30), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.pddl", rank=2),
)
