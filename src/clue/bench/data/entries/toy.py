"""The toy text world (`clue.bench.envs.toy`): a test world for the episode solver, not part of BEHEMOTH."""

from clue.bench.data.entries.agents import ENVIRONMENT_SUCCESS
from clue.bench.data.entry import DatasetEntry, SolverSettings
from clue.bench.data.records import AgenticTarget

ENTRIES = (
    DatasetEntry("toy", "agentic", False, ("toy",), AgenticTarget,
                 SolverSettings("episode", "system", max_tokens=512, step_cap=6), ENVIRONMENT_SUCCESS,
                 resources="environment", env="clue.bench.envs.toy", listed=False),
)
