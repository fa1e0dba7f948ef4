"""FEVER (GMemory-style agent over Wikipedia, up to 7 steps): memory in the system prompt, 0-shot."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS, one_line_agent
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("fever", "agentic", False, ("fever",), AgenticTarget,
                 one_line_agent("system", examples=0, step_cap=7), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.fever", rank=1),
)
