"""ScienceWorld (AgentBoard-style agent, up to 30 steps): memory in the first user message after the
1-shot example, before the goal."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS, one_line_agent
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("scienceworld", "agentic", False, ("scienceworld",), AgenticTarget,
                 one_line_agent("user", examples=1, step_cap=30), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.scienceworld", rank=4),
)
