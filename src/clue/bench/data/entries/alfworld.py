"""ALFWorld (GMemory-style agent, up to 20 steps): memory in the system prompt; memory runs are 0-shot
(the released sources were collected 1-shot)."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS, one_line_agent
from clue.bench.data.entry import DatasetEntry
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("alfworld", "agentic", False, ("alfworld",), AgenticTarget,
                 one_line_agent("system", examples=0, step_cap=20), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.alfworld", rank=0),
)
