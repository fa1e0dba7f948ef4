"""How every optimizer LLM sees a rollout: one renderer, one definition of success, one feedback policy.

CluE's summarizer and analyst, MemEvolve's analyst, GEPA's reflective dataset and ACE's reflector all call
`render_rollout`, so the methods differ only in their algorithms, never in what they are told.

- Success: the dataset's own success flag where it reports one (episodes, unit tests), otherwise a full
  reward (>= 1.0). A rollout that failed for an infrastructure reason is neither: it is labelled as such.
- Policy (the reference's): the optimizer sees the source, the memory, the target query, what the solver
  did (its reply, or the episode's steps and code runs) and the outcome, never the gold answer (nor the
  scorer's note, which often names it). `show_gold=True` adds both (a clue option, off by default).
- Length limits are per caller (the reference cuts sources to 500 characters for GEPA, 4,096 for ACE's
  reflector and the summarizer, and not at all for the analyst's full case view); `None` means whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.run.events import CodeRunEvent, EnvResetEvent, EnvStepEvent, LLMCallEvent
from clue.bench.run.rollouts import Rollout
from clue.memory.render import render_conversation

SUCCESS_RULE = "the dataset's own success flag where it reports one, otherwise reward >= 1.0"
GOLD_KEYS = ("answer", "target", "correct_answer", "label", "gold", "solution")


def succeeded(rollout: Rollout) -> bool:
    """The rollout's own definition (`Rollout.succeeded`), for callers that want a function."""
    return rollout.succeeded


def outcome_label(rollout: Rollout) -> str:
    """`Rollout.outcome`, with an error spelled out for the optimizer LLM."""
    if rollout.outcome == "error":
        return "infrastructure failure" if not rollout.scored else "error"
    return rollout.outcome


@dataclass(frozen=True)
class FeedbackPolicy:
    show_gold: bool = False
    source_chars: int | None = None
    memory_chars: int | None = None
    query_chars: int | None = None
    output_chars: int | None = None


def cut(text: str, limit: int | None) -> str:
    """Head and tail of a long text with the middle marked as cut; `None` keeps it whole."""
    text = text.strip()
    if limit is None or len(text) <= limit:
        return text
    head = (limit * 2) // 3
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[len(text) - (limit - head):]}"


def gold_answer(pair: Pair) -> str | None:
    for key in GOLD_KEYS:
        value = pair.target.get(key)
        if value not in (None, "", []):
            return value if isinstance(value, str) else json.dumps(value, default=str)
    return None


def target_text(pair: Pair) -> str:
    """The target's task text straight from its record (used when no task can phrase the query)."""
    for key in ("question", "task_main", "input", "query", "goal"):
        value = pair.target.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    hidden = set(GOLD_KEYS)
    return json.dumps({k: v for k, v in pair.target.items() if k not in hidden}, default=str)


QueryFn = Callable[[Pair], str]


def source_text(pair: Pair) -> str:
    return render_conversation(t.model_dump() for t in pair.source_messages)


def task_query(tasks: Callable[[str], Any]) -> QueryFn:
    """The solver's query text of a pair through the dataset's task, or the target's own text."""

    def query(pair: Pair) -> str:
        try:
            messages = tasks(pair.dataset).query_messages(pair)
            return "\n".join(m["content"] for m in messages if m["role"] == "user")
        except Exception:  # an unknown task must not stop the optimizer
            return target_text(pair)

    return query


def solver_view(rollout: Rollout) -> str:
    """What the solver did, like the reference's target conversation: with recorded solver calls, each reply
    in order with the observations and code outputs it got back; without them, the environment's steps
    (action and observation) and code runs; for a plain rollout, the reply."""
    events = rollout.events
    talked = any(isinstance(e, LLMCallEvent) and e.role == "solver" for e in events)
    lines: list[str] = []
    for event in events:
        if isinstance(event, LLMCallEvent) and event.role == "solver":
            lines.append(f"[solver] {event.reply.strip()}")
        elif isinstance(event, EnvResetEvent):
            lines.append(f"[start] {event.observation.strip()}")
        elif isinstance(event, EnvStepEvent):
            done = "  (done)" if event.done else ""
            if talked:
                lines.append(f"[observation {event.index}] {event.observation.strip()}{done}")
            else:
                lines.append(f"[step {event.index}] action: {event.action.strip()}\n"
                             f"  observation: {event.observation.strip()}{done}")
        elif isinstance(event, CodeRunEvent):
            status = "timed out" if event.timed_out else f"exit {event.exit_code}"
            output = (event.stdout + ("\n" + event.stderr if event.stderr else "")).strip() or "(none)"
            lines.append(f"[code output, {status}] {output}" if talked
                         else f"[code run, {status}]\n{event.code.strip()}\n  output: {output}")
    reply = rollout.solver_output.strip()
    if lines:
        if reply and not talked:
            lines.append(f"[final reply] {reply}")
        return "\n".join(lines)
    return reply or "(no reply)"


def outcome_text(rollout: Rollout, show_scorer: bool = False) -> str:
    """The outcome line. The scorer's note often names the expected answer ("got 41, expected 42"), so it is
    shown only when the policy shows the gold answer."""
    parts = [f"{outcome_label(rollout)} (reward {rollout.reward:g})"]
    if rollout.score_detail and show_scorer:
        parts.append(f"scorer: {rollout.score_detail}")
    if rollout.error:
        parts.append(f"error: {rollout.error}")
    return "; ".join(parts)


def render_rollout(pair: Pair, rollout: Rollout, query: str, policy: FeedbackPolicy, *,
                   title: str = "", summary: str = "") -> str:
    """The one view of a rollout for optimizer LLMs (source, memory, target query, solver, outcome)."""
    source = source_text(pair)
    blocks = [f"{title}Outcome: {outcome_text(rollout, policy.show_gold)}"]
    if summary:
        blocks.append(f"Scenario: {summary}")
    blocks += [f"Source conversation:\n{cut(source, policy.source_chars)}",
               f"Memory written:\n{cut(rollout.memory, policy.memory_chars) or '(empty)'}",
               f"Target query:\n{cut(query, policy.query_chars)}",
               f"Solver:\n{cut(solver_view(rollout), policy.output_chars)}"]
    if policy.show_gold:
        gold = gold_answer(pair)
        blocks.append(f"Gold answer: {gold if gold is not None else '(not recorded)'}")
    return "\n".join(blocks)
