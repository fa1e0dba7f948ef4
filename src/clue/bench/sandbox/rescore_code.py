"""Re-run BigCodeBench solutions against their tasks' unit tests: `clue rescore --dataset bigcodebench`.

Input lines are `{"task_id": "BigCodeBench/N", "solution": "<python source>"}`. Every solution runs in the
sandbox, several at once within the sandbox's concurrency limit.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from clue.bench.data.records import first_validation_error
from clue.bench.sandbox.bigcodebench import BigCodeBenchTask, TestOutcome, check_solution, load_tasks
from clue.bench.sandbox.isolation import Sandbox
from clue.errors import BadInputError


class SolutionLine(BaseModel):
    task_id: str
    solution: str


@dataclass(frozen=True)
class SolutionResult:
    line: int
    task_id: str
    outcome: TestOutcome


def read_solutions(path: Path, tasks: dict[str, BigCodeBenchTask]) -> list[tuple[int, SolutionLine]]:
    """Every line, checked before anything runs; the first bad line is reported by number."""
    solutions: list[tuple[int, SolutionLine]] = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                line = SolutionLine.model_validate(json.loads(text))
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            except ValidationError as exc:
                raise BadInputError(f"{path}:{number}: {first_validation_error(exc)}") from None
            if line.task_id not in tasks:
                raise BadInputError(f"{path}:{number}: unknown task_id {line.task_id!r}")
            solutions.append((number, line))
    return solutions


async def rescore_solutions(path: Path, env_root: Path, sandbox: Sandbox) -> list[SolutionResult]:
    tasks = load_tasks(env_root)
    solutions = read_solutions(path, tasks)

    async def one(number: int, line: SolutionLine) -> SolutionResult:
        outcome = await check_solution(tasks[line.task_id], line.solution, sandbox)
        return SolutionResult(number, line.task_id, outcome)

    return list(await asyncio.gather(*(one(number, line) for number, line in solutions)))


def format_passed(results: list[SolutionResult]) -> str:
    """E.g. "passed: 7/10"."""
    return f"passed: {sum(r.outcome.passed for r in results)}/{len(results)}"
