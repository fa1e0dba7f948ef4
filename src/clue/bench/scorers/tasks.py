"""Per-dataset solver query and scoring behind one interface.

`query_messages` builds the solver's user turn from the target (the runner adds the system prompt that
carries the memory). `score` pulls the final answer out of the solver's reply and scores it. Every query
asks the solver to finish with `<answer>...</answer>`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from clue.bench.data.datasets import NotRunnableError, get_dataset
from clue.bench.data.records import ChoiceTarget, LongMemEvalTarget, Pair, PrefEvalTarget, ProblemTarget
from clue.bench.scorers.aime import score_integer
from clue.bench.scorers.answer_format import AnswerFormat, letter_format
from clue.bench.scorers.equation import parse_question, score_equation
from clue.bench.scorers.extract import extract_answer
from clue.bench.scorers.game24 import puzzle_numbers, score_game24
from clue.bench.scorers.judge import JudgeFn, judge_longmemeval
from clue.bench.scorers.mcq import letter_of, options_from_text, score_choice
from clue.bench.scorers.score import Score, wrong
from clue.bench.scorers.sopr import ToolBenchTask
from clue.errors import BadInputError
from clue.llm.types import Message

if TYPE_CHECKING:
    from clue.bench.solvers.base import Episode

__all__ = ["AnswerTask", "JudgeFn", "JudgeRequiredError", "Score", "Task", "score_episode", "task_for"]


class JudgeRequiredError(BadInputError):
    """A judge-scored task was asked to score without a judge function."""


class Task(Protocol):
    def query_messages(self, pair: Pair) -> list[Message]: ...

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score: ...


_QUESTION_NUMBER = re.compile(r"Question #\d+:\s*\n")
LETTER_ENDING = "End your reply with <answer>X</answer>, where X is the letter of the option you choose."
# Constrained answers (embedded backend): room for a short reasoning before the letter, then the letter.
REASONING_CHARS = 600


def _user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def lettered_options(options: Mapping[str, str]) -> str:
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


def _problem_text(target: ProblemTarget) -> str:
    """The released task text without its leftover "Question #1:" numbering."""
    return _QUESTION_NUMBER.sub("", target.input).strip()


class AnswerTask(ABC):
    """A task scored by a deterministic check of the extracted final answer (no judge)."""

    @abstractmethod
    def query_messages(self, pair: Pair) -> list[Message]: ...

    @abstractmethod
    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score: ...

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        return self.score_answer(pair.target, extract_answer(solver_text))


class ChoiceQuestionTask(AnswerTask):
    """MemBench / PersonaMem: a question about the user with lettered choices."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = ChoiceTarget.model_validate(pair.target)
        when = f"(Asked at {target.time.replace(chr(39), '')}.)\n" if target.time else ""
        return _user(
            f"Answer this multiple-choice question about the user.\n{when}\n"
            f"Question: {target.question}\n\nOptions:\n{lettered_options(target.choices)}\n\n{LETTER_ENDING}"
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = ChoiceTarget.model_validate(target)
        return score_choice(answer, record.ground_truth, record.choices)

    def answer_format(self, pair: Pair) -> AnswerFormat:
        return letter_format(ChoiceTarget.model_validate(pair.target).choices, reasoning_chars=REASONING_CHARS)


class PrefEvalTask(AnswerTask):
    """PrefEval: pick the reply that respects the user's (unstated) preference."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = PrefEvalTarget.model_validate(pair.target)
        return _user(
            f"The user asks: {target.task_main}\n\nWhich of these replies would suit this particular user "
            f"best?\n{lettered_options(target.options)}\n\n{LETTER_ENDING}"
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = PrefEvalTarget.model_validate(target)
        return score_choice(answer, record.correct_idx, record.options)

    def answer_format(self, pair: Pair) -> AnswerFormat:
        return letter_format(PrefEvalTarget.model_validate(pair.target).options, reasoning_chars=REASONING_CHARS)


class LetteredProblemTask(AnswerTask):
    """MMLU-Pro and GPQA: the options are "(A) text" lines inside the input; the target is "(C)"."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = ProblemTarget.model_validate(pair.target)
        return _user(f"Solve this multiple-choice problem.\n\n{_problem_text(target)}\n\n{LETTER_ENDING}")

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = ProblemTarget.model_validate(target)
        return score_choice(answer, letter_of(record.target), options_from_text(record.input))


class IntegerProblemTask(AnswerTask):
    """AIME: the answer is an integer."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = ProblemTarget.model_validate(pair.target)
        return _user(
            f"Solve this problem.\n\n{_problem_text(target)}\n\n"
            "End your reply with the final integer alone, like this: <answer>123</answer>."
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        return score_integer(answer, ProblemTarget.model_validate(target).target)


class Game24Task(AnswerTask):
    def query_messages(self, pair: Pair) -> list[Message]:
        target = ProblemTarget.model_validate(pair.target)
        return _user(
            f"{_problem_text(target)}\n\nEnd your reply with the expression alone, using only the four "
            "numbers, + - * / and parentheses, like this: <answer>(7 - 8 / 8) * 4</answer>."
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        return score_game24(answer, puzzle_numbers(ProblemTarget.model_validate(target).task_main))


class EquationTask(AnswerTask):
    """MathEquationBalancer: fill the operators between fixed numbers."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = ProblemTarget.model_validate(pair.target)
        return _user(
            f"{_problem_text(target)}\n\nEnd your reply with the completed equation alone, "
            "like this: <answer>1 + 2 + 3 = 6</answer>."
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = ProblemTarget.model_validate(target)
        question = parse_question(record.task_main)
        if question is None:
            return wrong(f"cannot read the equation {record.task_main[:60]!r}")
        return score_equation(answer, question)


class JudgedQuestionTask:
    """LongMemEval: an open question graded by an LLM judge per question type, as the benchmark grades."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = LongMemEvalTarget.model_validate(pair.target)
        return _user(
            f"{target.question}\n\nReply to the user as helpfully as you can, and put your complete reply "
            "inside <answer>...</answer>."
        )

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        if judge is None:
            raise JudgeRequiredError(f"dataset {pair.dataset} is scored by an LLM judge, but none was given")
        target = LongMemEvalTarget.model_validate(pair.target)
        response = extract_answer(solver_text) or solver_text
        return await judge_longmemeval(judge, target.question_type, target.question, target.answer, response,
                                       question_id=target.question_id)


class OutcomeTask:
    """Agentic sets and BigCodeBench: the solver's episode ends in an outcome (environment success, unit
    tests passed) and that outcome is the score (see `score_episode`)."""

    def query_messages(self, pair: Pair) -> list[Message]:
        return _user(str(pair.target.get("task_main", "")))

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        raise BadInputError(f"dataset {pair.dataset} is scored by its episode's outcome, not by a reply")


_CHOICE = ChoiceQuestionTask()
_LETTERED = LetteredProblemTask()
_TASKS: dict[str, Task] = {
    "membench-high": _CHOICE,
    "membench-low": _CHOICE,
    "personamem-v2": _CHOICE,
    "prefeval": PrefEvalTask(),
    "longmemeval": JudgedQuestionTask(),
    "GameOf24": Game24Task(),
    "AIME": IntegerProblemTask(),
    "MMLU_Pro_Physics": _LETTERED,
    "MMLU_Pro_Engineering": _LETTERED,
    "MathEquationBalancer": EquationTask(),
    "GPQA_Diamond": _LETTERED,
    "toolbench": ToolBenchTask(),  # the SoPR judge reads the episode's final answer
}


def task_for(dataset_name: str) -> Task:
    """The task of a dataset. Raises UnknownDatasetError or NotRunnableError (with the reason).

    Resources (environments, the sandbox) are not checked here: that needs the command's env root
    (`clue.bench.data.datasets.missing_resources`)."""
    spec = get_dataset(dataset_name)
    task = _TASKS.get(spec.name)
    if task is None and (spec.category == "agentic" or spec.name == "bigcodebench"):
        task = OutcomeTask()
    if task is None:
        reason = spec.not_runnable_reason or "no task is defined for it"
        raise NotRunnableError(f"dataset {spec.name} cannot be run yet: {reason}")
    return task


async def score_episode(task: Task, pair: Pair, episode: Episode, judge: JudgeFn | None) -> Score:
    """Score what a solver did. A task that reads whole episodes (`score_episode`) gets the episode; an
    episode with an outcome (environment, unit tests) scores as that outcome; otherwise the task scores the
    solver's final reply, or the answer the solver extracted when it did."""
    custom = getattr(task, "score_episode", None)
    if custom is not None:
        result: Score = await custom(pair, episode, judge)
        return result
    if episode.outcome is not None:
        outcome = episode.outcome
        verdict = "success" if outcome.success else "failure"
        return Score(1.0 if outcome.success else 0.0, f"{verdict} after {outcome.steps} steps "
                                                      f"(progress reward {outcome.reward:.2f})")
    text = episode.final_text if episode.answer is None else f"<answer>{episode.answer}</answer>"
    return await task.score(pair, text, judge)
