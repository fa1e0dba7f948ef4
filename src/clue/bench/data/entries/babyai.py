"""BabyAI (AgentBoard-style agent, up to 20 steps): memory in the first user message after the 1-shot
example, before the goal."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS, one_line_agent
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("babyai", "agentic", False, ("babyai",), AgenticTarget,
                 one_line_agent("user", examples=1, step_cap=20), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.babyai", rank=3),
)
