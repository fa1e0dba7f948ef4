"""ToolBench's solvable pass rate (SoPR): a judge rates the final answer Solved (1), Unsure (0.5) or
Unsolved (0), as StableToolBench's `check_answer_status` does. The prompt is our own wording.
`ToolBenchTask.score_episode` applies it to an episode the episode solver played.

As in the reference: no final answer, or a give-up, is Unsolved without asking the judge; the judge sees
only the query and the final answer; a reply it cannot read counts as Unsolved. The reference's decoding
(StableToolBench's): temperature 0.2, up to 1,000 tokens, 3 votes, the most frequent status wins (a
three-way split goes to the first vote).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from clue.bench.data.records import Pair
from clue.bench.run.events import EnvStepEvent
from clue.bench.scorers.judge import JudgeFn
from clue.bench.scorers.score import Score
from clue.bench.solvers.base import Episode
from clue.errors import BadInputError
from clue.llm.types import Message

STATUS_REWARDS = {"Solved": 1.0, "Unsure": 0.5, "Unsolved": 0.0}

_PROMPT = """You check whether an assistant's final answer resolves a user's request that needed tool calls.

Rate the answer with one status:
- "Unsolved" when the answer apologises, refuses, or does not respond directly and positively to the request;
- otherwise look closer: "Unsure" when the answer alone does not let you tell whether the request was
  resolved, and "Solved" or "Unsolved" when you can tell with confidence.

Request:
{query}

Final answer:
{answer}

Reply with a JSON object holding your reasoning and the status:
{{"content": "why", "answer_status": "Solved" | "Unsure" | "Unsolved"}}"""

_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def sopr_messages(query: str, answer: str) -> list[Message]:
    return [{"role": "user", "content": _PROMPT.format(query=query.strip(), answer=answer.strip())}]


def parse_status(reply: str) -> str:
    """The status a judge reply gives; "Unsolved" when none can be read."""
    return read_status(reply) or "Unsolved"


def read_status(reply: str) -> str | None:
    """The status a judge reply gives; None when it names none (no JSON status and no status word)."""
    for match in _OBJECT.finditer(reply):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        status = str(data.get("answer_status", "")).strip().capitalize() if isinstance(data, dict) else ""
        if status in STATUS_REWARDS:
            return status
    lowered = reply.lower()  # no JSON: the first keyword rule that fits, in the reference's order
    if "solved" in lowered and "unsolved" not in lowered:
        return "Solved"
    if "unsolved" in lowered:
        return "Unsolved"
    return "Unsure" if "unsure" in lowered else None


@dataclass(frozen=True)
class SoprSettings:
    """How the SoPR judge is asked; the defaults are the reference's (StableToolBench's) settings."""

    votes: int = 3
    temperature: float = 0.2
    max_tokens: int = 1000


REFERENCE_SOPR = SoprSettings()


def majority(statuses: list[str]) -> str:
    """The most frequent status; among equally frequent ones, the one voted first (as `Counter` orders)."""
    return Counter(statuses).most_common(1)[0][0]


async def sopr_score(judge: JudgeFn | None, query: str, final_answer: str, gave_up: bool,
                     settings: SoprSettings = REFERENCE_SOPR) -> Score:
    """The SoPR reward of one ToolBench episode, asking `judge` (the judge role) when there is an answer."""
    if gave_up:
        return Score(0.0, "Unsolved: the agent gave up")
    if not final_answer.strip():
        return Score(0.0, "Unsolved: no final answer")
    if judge is None:
        raise BadInputError("ToolBench answers are scored by an LLM judge (SoPR), but none was given")
    messages = sopr_messages(query, final_answer)
    read = [await _vote(judge, messages, settings, vote) for vote in range(settings.votes)]
    statuses = [found or "Unsolved" for found in read]
    status = majority(statuses)
    votes = f" (votes: {', '.join(statuses)})" if len(statuses) > 1 else ""
    unreadable = read.count(None)
    note = f"; {unreadable} verdict(s) unreadable, counted as Unsolved" if unreadable else ""
    return Score(STATUS_REWARDS[status], f"judge: {status}{votes}{note}", unreadable_verdicts=unreadable)


async def _vote(judge: JudgeFn, messages: list[Message], settings: SoprSettings, vote: int) -> str | None:
    """One vote's status; an unreadable reply is asked once more (as a vote of its own number) before it is None."""
    for attempt in (vote, vote + settings.votes):
        found = read_status(await judge(messages, max_tokens=settings.max_tokens,
                                        temperature=settings.temperature, vote=attempt))
        if found is not None:
            return found
    return None


def final_answer_of(episode: Episode) -> tuple[str, bool]:
    """(final answer, gave up) of a ToolBench episode: the Finish step's info, else ("", False)."""
    for event in reversed(episode.events):
        if isinstance(event, EnvStepEvent) and "final_answer" in event.info:
            return str(event.info.get("final_answer") or ""), bool(event.info.get("give_up", False))
    return "", False


class ToolBenchTask:
    """ToolBench as a task: the episode solver plays it; the SoPR judge scores the final answer."""

    def __init__(self, sopr: SoprSettings = REFERENCE_SOPR) -> None:
        self.sopr = sopr

    def query_messages(self, pair: Pair) -> list[Message]:
        return [{"role": "user", "content": str(pair.target.get("task_main", ""))}]

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        raise BadInputError(f"dataset {pair.dataset} is scored from its episode (score_episode), not a reply")

    async def score_episode(self, pair: Pair, episode: Episode, judge: JudgeFn | None) -> Score:
        answer, gave_up = final_answer_of(episode)
        return await sopr_score(judge, str(pair.target.get("task_main", "")), answer, gave_up, self.sopr)
