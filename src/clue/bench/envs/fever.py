"""FEVER: verify a claim by ReAct over Wikipedia with Search, Lookup and Finish (the reference's FEVER agent).

Pages come from a page source the user provides (see `fever_pages`); the reference searched live
Wikipedia. What the agent sees follows the reference environment, quirks included (docs/fidelity.md):
- each reply counts as one step (7 at most), and only its first line is read;
- a line containing "thought" anywhere is a thought and gets "OK.", even `Search[Thought Police]`;
- "OK" is deleted from the line and, when it has a colon, only the text between the first and second
  colon is kept (so `Search[Star Wars: Episode IV]` becomes the invalid `Search[Star Wars`);
- Search shows the page's first paragraph; Lookup shows the next paragraph containing the keyword, as
  "(Result i/n) ...", and its position carries over to the next page when the keyword is the same;
- Finish ends the episode; the answer is right when it equals the gold label after SQuAD normalisation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.bench.data.datasets import step_cap_of
from clue.bench.envs.base import EnvSpec, Outcome, StepResult, Transcript, TranscriptStep
from clue.bench.envs.fever_pages import WikiPages, ensure_index, first_paragraph, missing_pages
from clue.errors import BadInputError

STEP_CAP = step_cap_of("fever")  # the dataset entry's cap (clue.bench.data.entries.fever)
LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")
SUCCESS_FEEDBACK = "You successfully finished this task."
FAILURE_FEEDBACK = "You failed the task."
NO_PAGE_FOR_LOOKUP = ("The last page Searched was not found, so you cannot Lookup a keyword in it. "
                      "Please try one of the similar pages given.")
INVALID_ACTION = "Invalid Action. Valid Actions are Lookup[<topic>] Search[<topic>] and Finish[<answer>]."
_ACTION = re.compile(r"^(\w+)\[(.+)\]$")

SYSTEM_PROMPT = """\
Decide whether a claim is true by alternating Thought, Action and Observation steps. A Thought reasons \
about what you know so far. An Action is one of three kinds:
(1) Search[entity] opens the Wikipedia page titled exactly `entity` and shows its first paragraph; when \
there is no such page, it lists pages with similar titles that you can search instead.
(2) Lookup[keyword] shows the next paragraph containing `keyword` in the page the last successful Search \
opened.
(3) Finish[answer] gives your verdict and ends the task; the answer is SUPPORTS, REFUTES or NOT ENOUGH \
INFO.
"""

EXAMPLE = """\
Claim: The Eiffel Tower was finished before the First World War.
Thought 1: I should find when the Eiffel Tower was completed and compare it with when the First World \
War began.
Action 1: Search[Eiffel Tower]
Observation 1: The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. \
It was built by Gustave Eiffel's company as the centrepiece of the 1889 World's Fair and was completed \
in March 1889.
Thought 2: It was completed in 1889, and the First World War began in 1914, so it was finished before \
the war.
Action 2: Finish[SUPPORTS]"""


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in set(string.punctuation))
    no_articles = re.sub(r"\b(a|an|the)\b", " ", no_punctuation)
    return " ".join(no_articles.split())


def label_is_correct(answer: str, gold: str) -> bool:
    return normalize_answer(answer) == normalize_answer(gold)


def process_action(reply: str) -> str:
    """The action in one agent reply, read as the reference reads it (see the module docstring)."""
    line = reply.strip().replace("<", "").split("\n")[0]
    line = line.replace(">", "").replace("OK.", "").replace("OK", "").strip()
    if line.endswith("."):
        line = line[:-1]
    if _is_thought(line):
        return line
    if ":" in line:
        line = line.split(":")[1].strip()
    return line


def _is_thought(line: str) -> bool:
    return "thought" in line.lower()


def finish_answer(action: str) -> str | None:
    """The answer of a `Finish[...]` action (after `process_action`), or None for any other action."""
    if _is_thought(action):
        return None
    match = _ACTION.match(action)
    return match.group(2) if match is not None and match.group(1) == "Finish" else None


class FeverEnvironment:
    """One claim at a time; Search and Lookup read the page source, Finish checks the label."""

    def __init__(self, pages: WikiPages) -> None:
        self._pages = pages
        self._gold = ""
        self._paragraphs: list[str] | None = None
        self._lookup_keyword = ""
        self._lookup_index = 0
        self._reward = 0.0
        self._steps = 0
        self._done = False

    def reset(self, target: Mapping[str, Any]) -> str:
        answer, claim = target.get("answer"), target.get("task")
        if not isinstance(answer, str) or not isinstance(claim, str):
            raise BadInputError(f"fever target {target.get('id')!r} needs string fields 'task' and 'answer'")
        self._gold = answer
        self._paragraphs, self._lookup_keyword, self._lookup_index = None, "", 0
        self._reward, self._steps, self._done = 0.0, 0, False
        return str(target.get("task_description") or f"Claim: {claim}")

    def step(self, action: str) -> StepResult:
        if self._done:
            return StepResult("The episode is over.", self._reward, True)
        self._steps += 1
        line = process_action(action)
        if _is_thought(line):
            return StepResult("OK.", self._reward, False)
        match = _ACTION.match(line)
        kind, argument = (match.group(1), match.group(2)) if match else ("", "")
        if kind == "Finish":
            self._done = True
            if label_is_correct(argument, self._gold):
                self._reward = 1.0
                return StepResult("Answer is CORRECT", 1.0, True, {"feedback": SUCCESS_FEEDBACK})
            return StepResult("Answer is INCORRECT", 0.0, True, {"feedback": FAILURE_FEEDBACK})
        if kind == "Search":
            observation = self._search(argument)
        elif kind == "Lookup":
            observation = self._lookup(argument)
        else:
            return StepResult(INVALID_ACTION, self._reward, False, {"invalid": True})
        return StepResult(observation.strip("\n").strip(), self._reward, False)

    def _search(self, entity: str) -> str:
        text = self._pages.page(entity)
        if text is None:
            self._paragraphs = None
            return f"Could not find [{entity}]. Similar: {self._pages.similar(entity)}"
        self._paragraphs = text.split("\n\n")
        return first_paragraph(text)

    def _lookup(self, keyword: str) -> str:
        if self._paragraphs is None:
            return NO_PAGE_FOR_LOOKUP
        if keyword.lower() != self._lookup_keyword:
            self._lookup_keyword, self._lookup_index = keyword.lower(), 0
        else:
            self._lookup_index += 1
        found = [p for p in self._paragraphs if self._lookup_keyword in p.lower()]
        if not found:
            return "No Results"
        if self._lookup_index >= len(found):
            return "No More Results"
        return f"(Result {self._lookup_index + 1}/{len(found)}) {found[self._lookup_index]}"

    def valid_actions(self) -> list[str] | None:
        return None  # free text: Search[...], Lookup[...], Finish[...]

    def outcome(self) -> Outcome:
        return Outcome(success=self._reward == 1.0, reward=self._reward, steps=self._steps)

    def close(self) -> None:
        self._pages.close()


def make(env_root: Path) -> FeverEnvironment:
    return FeverEnvironment(WikiPages(ensure_index(env_root)))


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    """The instruction, then (examples=1) the worked example."""
    if examples <= 0:
        return SYSTEM_PROMPT
    return f"{SYSTEM_PROMPT}\nHere are some examples:\n\n{EXAMPLE}\n"


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    return observation  # the memory goes into the system prompt


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A released 1-shot output line: assistant turns are actions, the user turn after each its observation."""
    messages: Sequence[Mapping[str, str]] = record["messages"]
    trajectory: Sequence[Mapping[str, Any]] = record.get("trajectory") or []
    first_user = next(i for i, message in enumerate(messages) if message["role"] == "user")
    steps: list[TranscriptStep] = []
    turn = 0
    for index in range(first_user + 1, len(messages)):
        if messages[index]["role"] != "assistant":
            continue
        following = messages[index + 1]["content"] if index + 1 < len(messages) else ""
        action = (str(trajectory[turn]["action"]) if turn < len(trajectory)
                  else process_action(messages[index]["content"]))
        correct = turn < len(trajectory) and trajectory[turn].get("reward") == 1
        steps.append(TranscriptStep(action, following, 1.0 if correct else 0.0))
        turn += 1
    return Transcript(target_id=int(record["id"]), initial_observation=messages[first_user]["content"],
                      steps=steps, success=bool(record["success"]), reward=float(record["reward"]))


def closing_messages(outcome: Outcome, last_observation: str) -> list[str]:
    """The user turns that end a FEVER transcript, as the reference writes them: the last observation, then
    its feedback line (FEVER's ends in a period, unlike the other GMemory sets' "!")."""
    return [last_observation, SUCCESS_FEEDBACK if outcome.success else FAILURE_FEEDBACK]


def score_output(record: Mapping[str, Any], gold: str) -> bool:
    """Offline score of a released or saved FEVER run: did its Finish action (the first ends it) give the gold label?"""
    actions = [str(step.get("action", "")) for step in record.get("trajectory") or []]
    if not actions:
        actions = [process_action(m["content"]) for m in record.get("messages", []) if m["role"] == "assistant"]
    answers = [answer for action in actions if (answer := finish_answer(process_action(action))) is not None]
    return bool(answers) and label_is_correct(answers[0], gold)


SPEC = EnvSpec(
    dataset="fever",
    step_cap=STEP_CAP,
    memory_placement="system",
    make=make,
    missing=missing_pages,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=process_action,
    parse_transcript=parse_transcript,
    pool_size=4,
    closing_messages=closing_messages,
)
