"""What the code-rounds datasets share (Dynamic-Cheatsheet style: up to 3 rounds of Python, memory in the
first user message, up to 2,048 tokens per reply so the final answer is not cut off). Not a dataset."""

from clue.bench.data.entry import DatasetEntry, ScorerChoice, SolverSettings

CODE_ROUNDS = SolverSettings("code_rounds", "user", max_tokens=2048)
ENTRIES: tuple[DatasetEntry, ...] = ()


def code_rounds_scorer(task_class: str, description: str) -> ScorerChoice:
    return ScorerChoice(f"clue.bench.scorers.tasks:{task_class}", description)
