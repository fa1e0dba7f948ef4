"""A tiny scripted world for evolution tests.

Each pair needs one kind of fact kept ("numbers" or "names"). The extractor keeps a kind only when the
extraction prompt says KEEP-NUMBERS / KEEP-NAMES; the solver answers right only when the memory holds the
pair's kind. So the seed prompt scores 0 and candidates that add the right guideline score higher: the
evolution has signal. Roles are told apart by model name (one per role); optimizer calls by their schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair, Turn
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import Runner
from clue.bench.scorers.judge import JudgeFn
from clue.bench.scorers.score import Score
from clue.config import Settings, load_settings
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.llm.types import Message

ROLE_ENV = {"CLUE_EXTRACTOR_MODEL": "ext", "CLUE_SOLVER_MODEL": "sol", "CLUE_JUDGE_MODEL": "judge",
            "CLUE_OPTIMIZER_MODEL": "opt", "CLUE_NO_CACHE": "1"}
KINDS = ("numbers", "names")
TASK = re.compile(r"kind=(\w+) answer=(\w+)")


def make_pairs(n: int, *, start: int = 0) -> list[Pair]:
    pairs = []
    for i in range(start, start + n):
        kind = KINDS[i % 2]
        answer = f"N{1000 + i}" if kind == "numbers" else f"Person{i}"
        dataset = "toyalpha" if i % 3 else "toybeta"
        said = f"Conversation {i}: please remember that my {kind} fact is {answer} for later."
        pairs.append(Pair(dataset=dataset, subset=dataset, source_id=i, target_id=10_000 + i,
                          source_messages=[Turn(role="user", content=said),
                                           Turn(role="assistant", content="Noted.")],
                          target={"kind": kind, "answer": answer}))
    return pairs


class FakeTask:
    def query_messages(self, pair: Pair) -> list[Message]:
        target = pair.target
        return [{"role": "user", "content": f"Task kind={target['kind']} answer={target['answer']}"}]

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        ok = f"<answer>{pair.target['answer']}</answer>" in solver_text
        return Score(1.0 if ok else 0.0)


def fake_tasks(dataset: str) -> FakeTask:
    return FakeTask()


def fake_info(dataset: str) -> tuple[str, bool]:
    return ("problem-solving", False)


def settings() -> Settings:
    return load_settings(env=dict(ROLE_ENV))


class InjectedCrash(RuntimeError):
    """Stands in for kill -9: raised from inside an LLM call, nothing after it runs."""


def kind_of(call: ScriptedCall) -> str:
    if call.model == "ext":
        return "extract"
    if call.model == "sol":
        return "solve"
    props = set((call.json_schema or {}).get("properties", {}))
    if "summary" in props:
        return "summarize"
    if "clusters" in props:
        return "cluster"
    if "action" in props:
        return "analyze"
    if "success_analysis" in props:
        return "analyze-context"
    if "edits" in props:
        return "synthesize"
    if "system_prompt" in props:
        return "synthesize"  # the whole-prompt rewrite (default mode)
    if "bullet_tags" in props:
        return "reflect"  # ACE's reflector
    if "operations" in props:
        return "curate"  # ACE's curator
    if call.model == "opt" and call.json_schema is None:
        return "gepa-reflect"  # gepa's reflection: free text, the new prompt in ``` fences
    return "other"


def default_clusters(user: str) -> dict[str, Any]:
    """Group the listed examples by the kind their summary names."""
    groups: dict[str, list[str]] = {}
    for eid, summary in re.findall(r"- (e\d+) \[\w+\]: (.*)", user):
        kind = "numbers" if "numbers" in summary else "names"
        groups.setdefault(kind, []).append(eid)
    return {"clusters": [{"id": "new", "label": f"{k} scenario", "description": f"keeping {k} exactly",
                          "members": members} for k, members in groups.items()]}


def default_edit(index: int, user: str) -> dict[str, Any]:
    rule = ["- KEEP-NUMBERS: keep every number exactly.", "- KEEP-NAMES: keep every name exactly.",
            "- KEEP-NUMBERS and KEEP-NAMES: keep numbers and names."][index % 3]
    return {"rationale": "add the missing rule",
            "edits": [{"section": "## Guidelines", "operation": "append", "text": rule}]}


@dataclass
class World:
    """The scripted backend's responder, with counters and an optional injected crash."""

    crash: Callable[[str, ScriptedCall, World], bool] | None = None
    clusters: Callable[[str], dict[str, Any]] = default_clusters
    edit: Callable[[int, str], dict[str, Any]] = default_edit
    analyst_steps: int = 3  # overview, one case, final
    counts: Counter[str] = field(default_factory=Counter)
    extractions: list[str] = field(default_factory=list)  # digests of successful (prompt, source, seed) calls
    solved: list[str] = field(default_factory=list)

    def __call__(self, call: ScriptedCall) -> str:
        kind = kind_of(call)
        if self.crash is not None and self.crash(kind, call, self):
            raise InjectedCrash(f"injected crash at {kind} call")
        self.counts[kind] += 1
        system, user = call.messages[0]["content"], call.messages[-1]["content"]
        if kind == "extract":
            seen = f"{system}\x00{user}\x00{call.decoding.seed}"  # the finals re-run a pair with a new seed
            self.extractions.append(hashlib.sha256(seen.encode()).hexdigest())
            kept = [k for k in KINDS if f"KEEP-{k.upper()}" in system]
            facts = re.findall(r"my (\w+) fact is (\w+)", user)
            return "\n".join([f"{n}. the {k} fact is {v}" for n, (k, v) in enumerate(facts, 1) if k in kept]
                             or ["1. nothing kept"])
        if kind == "solve":
            self.solved.append(hashlib.sha256((system + user).encode()).hexdigest())
            match = TASK.search(user)
            assert match is not None
            found = f"fact is {match.group(2)}" in system
            return f"<answer>{match.group(2) if found else 'unknown'}</answer>"
        if kind == "summarize":
            match = TASK.search(user)
            need = match.group(1) if match else "facts"
            return json.dumps({"summary": f"The memory must keep {need} exactly. Hard because the "
                                          f"conversation mentions them once."})
        if kind == "cluster":
            return json.dumps(self.clusters(user))
        if kind == "analyze":
            turns = (len(call.messages) - 1) // 2  # system + user, then assistant/user pairs
            if turns < self.analyst_steps - 1:
                if turns == 0:
                    return json.dumps({"action": "overview", "page": 1})
                first = re.search(r"(e\d+) \|", "\n".join(m["content"] for m in call.messages))
                return json.dumps({"action": "case", "id": first.group(1) if first else "e01"})
            return json.dumps(analysis_reply(call))
        if kind == "analyze-context":
            return json.dumps({k: v for k, v in analysis_reply(call).items() if k != "action"})
        if kind == "synthesize":
            assert call.decoding.seed is not None
            edit = self.edit(call.decoding.seed - 42, user)
            rewrite = "system_prompt" in (call.json_schema or {}).get("properties", {})
            return json.dumps(rewrite_reply(edit, user) if rewrite else edit)
        return baseline_reply(kind, call, self.counts[kind])


def baseline_reply(kind: str, call: ScriptedCall, count: int) -> str:
    """GEPA's reflection and ACE's reflector and curator: each adds one of the rules, in turn."""
    rule = ["KEEP-NUMBERS: keep every number exactly.", "KEEP-NAMES: keep every name exactly."][count % 2]
    if kind == "reflect":
        return json.dumps({"diagnosis": "a kind of fact was dropped", "key_insight": "keep facts exactly",
                           "bullet_tags": []})
    if kind == "curate":
        return json.dumps({"reasoning": "add the missing rule",
                           "operations": [{"type": "ADD_BULLET", "section": "gen", "content": rule}]})
    if kind == "gepa-reflect":
        current = re.search(r"```\n(.*?)\n```", call.messages[-1]["content"], re.DOTALL)
        return f"```\n{current.group(1) if current else ''}\n- {rule}\n```"
    return "{}"


def rewrite_reply(edit: dict[str, Any], user: str) -> dict[str, Any]:
    """The rewrite-mode answer: the base prompt from the user message with the edit's rule appended to it."""
    match = re.search(r"<prompt>\n(.*?)\n</prompt>", user, re.DOTALL)
    base = match.group(1) if match else ""
    rule = "\n".join(e["text"] for e in edit.get("edits", []))
    return {"candidate_id": "cand_01", "system_prompt": f"{base}\n{rule}", "rationale": edit.get("rationale", "")}


def analysis_reply(call: ScriptedCall) -> dict[str, Any]:
    text = "\n".join(m["content"] for m in call.messages)
    kinds = [k for k in KINDS if k in text] or ["facts"]
    return {"action": "final", "success_analysis": "kept facts helped",
            "failure_analysis": "facts were dropped", "risks": "may overfit to two kinds",
            "recommendations": [f"Keep {k} exactly." for k in kinds] + ["Write one fact per line.",
                                                                           "Skip small talk."]}


@dataclass
class Setup:
    """One "process": fresh LLM, runner, store, meter and harness on a run directory."""

    world: World
    backend: ScriptedBackend
    llm: LLM
    runner: Runner
    store: RolloutStore
    harness: Harness

    def close(self) -> None:
        self.store.close()


def make_setup(run_dir: Path, world: World, budget: Budget | None = None) -> Setup:
    backend = ScriptedBackend(world)
    llm = LLM(settings(), backend=backend, cache=None)
    runner = Runner(llm, tasks=fake_tasks, info=fake_info)
    store = RolloutStore(run_dir / "rollouts.jsonl")
    meter = BudgetMeter(budget or Budget(), llm.ledger, rollouts_spent=len(store.rollouts))
    return Setup(world, backend, llm, runner, store, Harness(runner, store, meter))
