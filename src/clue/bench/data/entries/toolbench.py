"""ToolBench (OOD, 330 StableToolBench queries): ReAct over cached tool APIs, up to 12 steps and 2,048
tokens per reply; memory in the system prompt; the SoPR judge rates the final answer."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings
from clue.bench.data.records import ToolBenchTarget

ENTRIES = (
    DatasetEntry("toolbench", "agentic", True, ("toolbench",), ToolBenchTarget,
                 SolverSettings("episode", "system", max_tokens=2048, step_cap=12),
                 ScorerChoice("clue.bench.scorers.sopr:ToolBenchTask", "LLM judge (solved 1, unsure 0.5)"),
                 resources="environment", env="clue.bench.envs.toolbench", rank=5),
)
