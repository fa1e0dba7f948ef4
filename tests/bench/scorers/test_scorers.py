from __future__ import annotations

import time

import pytest

from clue.bench.scorers.aime import parse_integer, score_integer
from clue.bench.scorers.arith import ExpressionRejected, evaluate
from clue.bench.scorers.equation import BalanceQuestion, parse_question, score_equation
from clue.bench.scorers.extract import extract_answer, last_boxed, strip_wrappers
from clue.bench.scorers.game24 import puzzle_numbers, score_game24
from clue.bench.scorers.judge import judge_answer, judge_messages, parse_verdict
from clue.bench.scorers.mcq import letter_of, options_from_text, parse_choice, score_choice
from clue.llm.types import Message

# --- extraction


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("work...\nFINAL ANSWER:\n<answer>\n42\n</answer>", "42"),
        ("<answer>1</answer> then revised <answer> 7 </answer>", "7"),
        ("reasoning\nFINAL ANSWER: (B)", "(B)"),
        ("reasoning\n**Final Answer:** 42", "42"),
        ("## Final answer:\n\n<answer>\n7", "7"),  # tag never closed
        ("so the result is \\boxed{\\frac{1}{2}}.\nDone.", "\\frac{1}{2}"),
        ("B", "B"),
        ("<think>maybe <answer>A</answer></think>The answer is <answer>C</answer>", "C"),
    ],
)
def test_extract_answer_finds_the_final_answer(reply: str, expected: str) -> None:
    assert extract_answer(reply) == expected


def test_extract_answer_is_none_without_an_answer() -> None:
    long_reply = "Let me think.\nStill thinking about 6 * 4 = 24 and more."
    assert extract_answer(long_reply) is None
    assert extract_answer("") is None
    assert extract_answer("<answer>   </answer>\nand then text\nover lines") is None


def test_final_answer_inside_code_is_not_a_marker() -> None:
    assert extract_answer('x = 1\nprint(f"Final answer: {x}")\nmore code\n') is None


def test_boxed_and_wrappers() -> None:
    assert last_boxed("\\boxed{1} and \\boxed{{2}+1}") == "{2}+1"
    assert last_boxed("\\boxed{12") is None
    assert strip_wrappers("$\\boxed{033}$") == "033"
    assert strip_wrappers("**(B)**") == "(B)"


# --- multiple choice

OPTIONS = {"A": "Musical", "B": "Drama", "C": "Horror", "D": "Children"}


@pytest.mark.parametrize(
    "answer",
    ["B", "(B)", "b", "B.", "B) Drama", "(B) Drama", "B. Drama", "Answer: B", "The answer is (B)",
     "Option B", "drama", "Drama.", "$\\boxed{B}$", "**B**"],
)
def test_choice_accepts_common_forms(answer: str) -> None:
    assert parse_choice(answer, OPTIONS) == "B"
    assert score_choice(answer, "B", OPTIONS).reward == 1.0


@pytest.mark.parametrize("answer", ["E", "B or C", "I think it is either Drama or Horror", "", "Comedy"])
def test_choice_rejects_unclear_or_invalid(answer: str) -> None:
    assert parse_choice(answer, OPTIONS) is None


def test_choice_text_must_be_unambiguous() -> None:
    assert parse_choice("same", {"A": "same", "B": "Same"}) is None


def test_choice_scores() -> None:
    assert score_choice("C", "B", OPTIONS).reward == 0.0
    assert score_choice(None, "B", OPTIONS).detail == "no answer found"
    assert score_choice("(C)", "(C)", {"A": "1", "B": "2", "C": "3"}).reward == 1.0


def test_options_from_mmlu_style_input() -> None:
    text = "Question #1:\nWhich?\nOptions:\n(A) one\n(B) two\nlines on\n(C) three"
    assert options_from_text(text) == {"A": "one", "B": "two\nlines on", "C": "three"}
    assert options_from_text("no options here") == {}
    assert letter_of("(I)") == "I"
    ten_options = options_from_text("Options:\n" + "\n".join(f"({c}) x{c}" for c in "ABCDEFGHIJ"))
    assert parse_choice("I", ten_options) == "I"


# --- AIME


@pytest.mark.parametrize(
    "answer", ["33", "033", "\\boxed{33}", "$33$", "33.", "33.0", "The answer is 33", "+33"]
)
def test_integer_matches(answer: str) -> None:
    assert score_integer(answer, "33").reward == 1.0


@pytest.mark.parametrize("answer", ["34", "33.5", "thirty-three", "3 3 x", "1e2", "", "9" * 40])
def test_integer_mismatches(answer: str) -> None:
    assert score_integer(answer, "33").reward == 0.0


def test_integer_strips_commas_and_dollars() -> None:
    assert parse_integer("1,024") == 1024
    assert parse_integer("$1{,}024$") == 1024
    assert parse_integer("1 024") == 1024
    assert parse_integer("3 3") is None
    assert parse_integer("3,3") is None
    assert parse_integer("\\$1,024") == 1024
    assert score_integer(None, "5").detail == "no answer found"


# --- safe arithmetic and Game of 24

NUMBERS = [4, 5, 6, 10]


@pytest.mark.parametrize(
    "answer",
    ["(10 - 6) * (5 + 4)  ", "4 * (10 - 5) + 6 - 2"],
)
def test_game24_rejects_wrong_results_or_numbers(answer: str) -> None:
    assert score_game24(answer, NUMBERS).reward == 0.0


@pytest.mark.parametrize(
    ("answer", "numbers"),
    [
        ("(11 - 5) × (8 ÷ 2) = 24", [2, 5, 8, 11]),
        ("(11 - 5) x (8 / 2)", [2, 5, 8, 11]),
        ("[(11 − 5)] * {8 / 2}", [2, 5, 8, 11]),
        ("6 - (9 * (9 - 11))", [6, 9, 9, 11]),
        ("(5 + 10) * (8 / 5) = 24", [5, 5, 8, 10]),
        ("8 / (3 - 8 / 3)", [3, 3, 8, 8]),  # needs exact fractions: 8 / (1/3)
        ("\\boxed{(13 - 9) \\times (5 + 1)}", [1, 5, 9, 13]),
    ],
)
def test_game24_accepts_valid_solutions(answer: str, numbers: list[int]) -> None:
    assert score_game24(answer, numbers).reward == 1.0


def test_game24_number_multiset_must_match() -> None:
    assert score_game24("(6 × 4) × (12 ÷ 12) = 24", [2, 4, 6, 12]).reward == 0.0  # 12 twice, no 2
    assert score_game24("6 * 4", [2, 4, 6, 12]).reward == 0.0  # numbers left over
    assert score_game24("(11 - (4 / 4)) * 1 = 24", [1, 4, 4, 11]).reward == 0.0  # equals 10


def test_game24_claimed_result_must_be_24() -> None:
    assert score_game24("(11 - 5) * (8 / 2) = 25", [2, 5, 8, 11]).reward == 0.0


@pytest.mark.parametrize(
    "expression",
    ["9**9**9", "9 ** 9 ** 9 ** 9", "2^3", "__import__('os')", "abs(-24)", "24.0", "1e3", "0o30", "0b11000",
     "1_000", "(" * 5000 + "1" + ")" * 5000, "24 // 1", "24 % 25", "lambda: 1", "[24][0]", "4 6"],
)
def test_arith_rejects_everything_but_plain_arithmetic(expression: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ExpressionRejected):
        evaluate(expression)
    assert time.perf_counter() - started < 0.5  # rejected, never computed


def test_arith_deep_nesting_is_handled() -> None:
    assert evaluate("(" * 100 + "24" + ")" * 100).value == 24
    assert evaluate("-" * 299 + "1").value == -1  # as deep as the length cap allows
    with pytest.raises(ExpressionRejected, match="longer than"):
        evaluate("-" * 300 + "1")


def test_arith_division_by_zero_is_rejected() -> None:
    with pytest.raises(ExpressionRejected, match="division by zero"):
        evaluate("4 / (6 - 6)")
    assert score_game24("24 / (4 - 4) + 5 + 6", [4, 4, 5, 6]).reward == 0.0


def test_arith_is_exact() -> None:
    result = evaluate("1 / 3 + 1 / 3 + 1 / 3")
    assert result.value == 1
    assert result.numbers == (1, 3, 1, 3, 1, 3)
    assert evaluate("-3 + 27").value == 24


def test_puzzle_numbers() -> None:
    assert puzzle_numbers("4 5 6 10") == [4, 5, 6, 10]


# --- MathEquationBalancer

QUESTION = BalanceQuestion((14, 16, 20, 15, 23), 25)


def test_parse_question() -> None:
    assert parse_question("14 ? 16 ? 20 ? 15 ? 23 = 25") == QUESTION
    assert parse_question("4 ? 20 ? 2 ? 1 = -19") == BalanceQuestion((4, 20, 2, 1), -19)
    assert parse_question("not an equation") is None


@pytest.mark.parametrize(
    "answer",
    ["14 - 16 / 20 * 15 + 23 = 25", "14-16/20*15+23=25", "14 - 16 / 20 * 15 + 23",
     "14 − 16 ÷ 20 × 15 + 23 = 25"],
)
def test_equation_accepts_correct_fillings(answer: str) -> None:
    assert score_equation(answer, QUESTION).reward == 1.0


def test_equation_accepts_a_different_valid_filling() -> None:
    question = BalanceQuestion((3, 21, 1), -18)
    assert score_equation("3 - 21 * 1 = -18", question).reward == 1.0
    assert score_equation("3 - 21 / 1 = -18", question).reward == 1.0


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("14 - 16 / 20 * 15 + 23 = 26", "right-hand side"),
        ("14 + 16 / 20 * 15 + 23 = 25", "left side is"),
        ("14 - 16 / (20 * 15) + 23 = 25", "not the numbers"),
        ("16 - 14 / 20 * 15 + 23 = 25", "differ"),
        ("14 - 16 / 20 * 15 = 25", "differ"),
        ("14 - 16 / 20 ** 15 + 23 = 25", "not the numbers"),
        ("14 - 16 / 20 * 15 + 23 = 25 = 25", "more than one"),
        ("-14 - 16 / 20 * 15 + 23 = 25", "not the numbers"),
    ],
)
def test_equation_rejects(answer: str, why: str) -> None:
    score = score_equation(answer, QUESTION)
    assert score.reward == 0.0
    assert why in score.detail


def test_equation_division_by_zero() -> None:
    assert score_equation("1 / 0 + 2 = 3", BalanceQuestion((1, 0, 2), 3)).reward == 0.0


# --- judge


@pytest.mark.parametrize(
    ("reply", "reward"),
    [("yes", 1.0), ("Yes.", 1.0), ("NO", 0.0), ("no - it ignores the user", 0.0),
     ("<think>hmm, yes or no?</think>yes", 1.0), ("Verdict: yes", 1.0),
     ("The response is fine, so yes.", 1.0)],
)
def test_parse_verdict(reply: str, reward: float) -> None:
    assert parse_verdict(reply).reward == reward


@pytest.mark.parametrize("reply", ["", "maybe", "yes and no", "unsure"])
def test_unparseable_verdict_scores_zero_with_detail(reply: str) -> None:
    score = parse_verdict(reply)
    assert score.reward == 0.0
    assert score.detail


def test_unsure_is_half_when_allowed() -> None:
    assert parse_verdict("unsure", allow_unsure=True).reward == 0.5


async def test_judge_answer_sends_question_reference_and_response() -> None:
    seen: list[list[Message]] = []

    async def judge(messages: list[Message]) -> str:
        seen.append(messages)
        return "yes"

    score = await judge_answer(judge, "Where do I live?", "Lisbon", "You live in Lisbon.")
    assert score.reward == 1.0
    text = seen[0][-1]["content"]
    assert "Where do I live?" in text and "Lisbon" in text and "You live in Lisbon." in text
    assert await judge_answer(judge, "q", "r", "   ") == type(score)(0.0, "empty response")
    assert len(seen) == 1


def test_judge_prompt_mentions_unsure_only_when_allowed() -> None:
    assert "unsure" not in judge_messages("q", "r", "a")[-1]["content"]
    assert "unsure" in judge_messages("q", "r", "a", allow_unsure=True)[-1]["content"]
