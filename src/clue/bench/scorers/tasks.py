"""Per-dataset solver query and scoring behind one interface.

`query_messages` builds the solver's user turn from the target (the runner adds the system prompt that
carries the memory). `score` pulls the final answer out of the solver's reply and scores it. Each query
asks for the answer in the form the reference asks for it: a bare letter (MemBench), a choice tag
(PrefEval), an open step-by-step answer (LongMemEval), else `<answer>...</answer>`. Which task a dataset
uses is said by its entry (`clue.bench.data.entries`, `DatasetEntry.scorer`).
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from clue.bench.data.datasets import NotRunnableError, get_dataset
from clue.bench.data.records import (
    ChoiceTarget,
    LongMemEvalTarget,
    Pair,
    PersonaMemTarget,
    PrefEvalTarget,
    ProblemTarget,
)
from clue.bench.scorers.aime import score_integer
from clue.bench.scorers.answer_format import AnswerFormat, letter_format
from clue.bench.scorers.equation import parse_question, score_equation
from clue.bench.scorers.extract import extract_answer
from clue.bench.scorers.game24 import puzzle_numbers, score_game24
from clue.bench.scorers.judge import JudgeFn, judge_longmemeval
from clue.bench.scorers.mcq import letter_of, options_from_text, parse_choice, score_choice
from clue.bench.scorers.score import Score, wrong
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


class MemBenchTask(AnswerTask):
    """MemBench: a question about the user with four lettered choices; the reply is the bare letter."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = ChoiceTarget.model_validate(pair.target)
        when = f"(it is now {target.time.replace(chr(39), '')}) " if target.time else ""
        return _user(
            f"Answer this question about the user from what you know of your past conversations.\n"
            f"Question: {when}{target.question}\nChoices:\n{lettered_options(target.choices)}\n"
            "Reply with the letter of the right choice alone, nothing else. For example: B"
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = ChoiceTarget.model_validate(target)
        return score_choice(answer, record.ground_truth, record.choices)

    def answer_format(self, pair: Pair) -> AnswerFormat:
        return letter_format(ChoiceTarget.model_validate(pair.target).choices, tags=("", ""))


class PersonaMemTask(AnswerTask):
    """PersonaMem-v2: which of the candidate replies fits this user's request best."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = PersonaMemTarget.model_validate(pair.target)
        letters = ", ".join(f"({letter})" for letter in target.options)
        return _user(
            f"{target.user_query.strip()}\n\n{lettered_options(target.options)}\n\n"
            f"Which of these responses would serve me best? Pick the most fitting one and end with your final "
            f"answer, one of {letters}."
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = PersonaMemTarget.model_validate(target)
        return score_choice(answer, record.correct_letter or "", record.options)

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        """The answer tag or final-answer line when it names an option, else the reply's closing "(X)"."""
        record = PersonaMemTarget.model_validate(pair.target)
        answer = extract_answer(solver_text)
        if answer is None or parse_choice(answer, record.options) is None:
            answer = _last_letter(solver_text) or answer
        return self.score_answer(pair.target, answer)


_CHOICE_TAG = re.compile(r"<choice>\s*(.*?)\s*</choice>", re.IGNORECASE | re.DOTALL)
_CLOSING_LETTER = re.compile(r"\b([A-Z])\b(?=[^A-Za-z]*$)")


def _last_letter(text: str) -> str | None:
    """The last "(X)" in a reply, else a lone capital letter ending it (PersonaMem's closing answer)."""
    marked = re.findall(r"\(([A-Z])\)", text)
    if marked:
        return str(marked[-1])
    match = _CLOSING_LETTER.search(text.strip())
    return match.group(1) if match else None


class PrefEvalTask(AnswerTask):
    """PrefEval: the user asks, in the first person, for a recommendation among four options; the reply is
    the chosen letter in a choice tag, without explanation."""

    def query_messages(self, pair: Pair) -> list[Message]:
        target = PrefEvalTarget.model_validate(pair.target)
        return _user(
            f"{target.task_main.strip()}\n\nHere are the options I am weighing:\n"
            f"{lettered_options(target.options)}\n\n"
            "Please recommend one of them for me. Pick exactly one option from the list (no alternatives, no "
            "refusing to choose) and reply with its letter in a choice tag and no explanation, for example: "
            "<choice>C</choice>"
        )

    def score_answer(self, target: Mapping[str, Any], answer: str | None) -> Score:
        record = PrefEvalTarget.model_validate(target)
        return score_choice(answer, record.correct_idx, record.options)

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        tagged = _CHOICE_TAG.findall(solver_text)
        return self.score_answer(pair.target, tagged[-1] if tagged else extract_answer(solver_text))

    def answer_format(self, pair: Pair) -> AnswerFormat:
        return letter_format(PrefEvalTarget.model_validate(pair.target).options, tags=("<choice>", "</choice>"))


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
    """LongMemEval: an open question answered step by step; an LLM judge grades the WHOLE answer by the
    question's type, as the benchmark grades (one user message, a one-word verdict)."""

    judge_max_tokens: int | None = None  # the entry sets it (10 for LongMemEval); None: the judge role's

    def query_messages(self, pair: Pair) -> list[Message]:
        target = LongMemEvalTarget.model_validate(pair.target)
        return _user(f"Think it through step by step, then answer.\n\nQuestion: {target.question.strip()}\nAnswer:")

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        if judge is None:
            raise JudgeRequiredError(f"dataset {pair.dataset} is scored by an LLM judge, but none was given")
        target = LongMemEvalTarget.model_validate(pair.target)
        return await judge_longmemeval(judge, target.question_type, target.question, target.answer, solver_text,
                                       question_id=target.question_id, max_tokens=self.judge_max_tokens)


class OutcomeTask:
    """Agentic sets and BigCodeBench: the solver's episode ends in an outcome (environment success, unit
    tests passed) and that outcome is the score (see `score_episode`)."""

    def query_messages(self, pair: Pair) -> list[Message]:
        return _user(str(pair.target.get("task_main", "")))

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        raise BadInputError(f"dataset {pair.dataset} is scored by its episode's outcome, not by a reply")


def task_for(dataset_name: str) -> Task:
    """The task its entry names for a dataset. Raises UnknownDatasetError, or NotRunnableError when the
    task cannot be imported.

    Resources (environments, the sandbox) are not checked here: that needs the command's env root
    (`clue.bench.data.datasets.missing_resources`)."""
    spec = get_dataset(dataset_name)
    module_name, _, class_name = spec.scorer.task.partition(":")
    try:
        task_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise NotRunnableError(f"dataset {spec.name} cannot be run: its task {spec.scorer.task} is not "
                               f"available ({exc})") from None
    task: Task = task_class()
    if spec.scorer.judge_max_tokens is not None and hasattr(task, "judge_max_tokens"):
        task.judge_max_tokens = spec.scorer.judge_max_tokens  # type: ignore[attr-defined]
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
