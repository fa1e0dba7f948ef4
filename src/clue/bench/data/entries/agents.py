"""What the agentic datasets share: a ReAct episode over an environment, one line per reply (stop at a
newline), scored by the environment's success. Not a dataset."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.envs.base import MemoryPlacement

ENVIRONMENT_SUCCESS = ScorerChoice("clue.bench.scorers.tasks:OutcomeTask", "environment success")
ENTRIES: tuple[DatasetEntry, ...] = ()


def one_line_agent(memory_placement: MemoryPlacement, *, examples: int, step_cap: int) -> SolverSettings:
    return SolverSettings("episode", memory_placement, max_tokens=512, stop=("\n",), examples=examples,
                          step_cap=step_cap)
