"""What one evolution round costs, per method, with the scripted backend (no model, runs in seconds).

CluE runs TWO rounds at the defaults (batch 35, 3 candidates, top 2, 10 resampled, <=7 clusters; the cursor
advances 2 x batch per round), MemEvolve one, on the same synthetic pool of pairs. GEPA and ACE have no
rounds, so they get an equal budget: the new rollouts CluE spent in its first round. The table shows new and
reused rollouts, LLM calls and tokens per role, and what each method did with its budget. Then
`clue_rollouts_round1: N`, `clue_rollouts_round2: N`, `clue_tokens_per_round: N` (all roles, mean of the two
rounds); the last line is `clue_rollouts_per_round: N` (round 1).

    .venv/bin/python perf/evolve_cost.py [--pairs 160] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair, Turn
from clue.bench.run.files import LINEAGE, PRIVATE_STATE
from clue.bench.run.lineage import AceDetails, Lineage
from clue.bench.run.lineage_read import lineage_of
from clue.bench.run.record import RoundProgress
from clue.bench.run.rollouts import RolloutStore
from clue.bench.run.runner import Runner
from clue.bench.scorers.judge import JudgeFn
from clue.bench.scorers.score import Score
from clue.config import load_settings
from clue.evolve.budget import Budget, BudgetMeter
from clue.evolve.harness import Harness
from clue.evolve.protocol import EvolveSettings, OptimizationResult, Optimizer
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.llm.types import ROLES, Message
from clue.memory.prompts import load_prompt

REFERENCE_ROLLOUTS_PER_ROUND = 265
METHODS = {  # imported by name, so a method that is not written yet only drops out of the table
    "clue": "clue.evolve.clue_method:ClueOptimizer",
    "memevolve": "clue.evolve.memevolve:MemEvolveOptimizer",
    "gepa": "clue.evolve.gepa_method:GepaOptimizer",
    "ace": "clue.evolve.ace:AceOptimizer",
}
ROLE_MODELS = {"CLUE_EXTRACTOR_MODEL": "ext", "CLUE_SOLVER_MODEL": "sol", "CLUE_JUDGE_MODEL": "judge",
               "CLUE_OPTIMIZER_MODEL": "opt", "CLUE_NO_CACHE": "1"}
KINDS = ("number", "name", "date")
FACT = re.compile(r"my (\w+) is (\S+?)\.")
ASK = re.compile(r"kind=(\w+)")


# -- a small scripted world with signal: prompts that ask for a kind of fact keep it -----------------------

def synthetic_pairs(n: int) -> list[Pair]:
    values = {"number": lambda i: f"N{1000 + i}", "name": lambda i: f"Person{i}", "date": lambda i: f"D{i}-05"}
    pairs = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        dataset = ("synth-chat", "synth-tasks")[i % 2]
        pairs.append(Pair(dataset=dataset, subset=dataset, source_id=i, target_id=5000 + i,
                          source_messages=[Turn(role="user", content=f"Hi. For later: my {kind} is "
                                                f"{values[kind](i)}. I also like tea."),
                                           Turn(role="assistant", content="Noted, I will keep that in mind.")],
                          target={"question": f"What is my {kind}? (kind={kind})", "kind": kind,
                                  "answer": values[kind](i)}))
    return pairs


class SyntheticTask:
    def query_messages(self, pair: Pair) -> list[Message]:
        return [{"role": "user", "content": str(pair.target["question"])}]

    async def score(self, pair: Pair, solver_text: str, judge: JudgeFn | None) -> Score:
        expected = str(pair.target["answer"])
        ok = f"<answer>{expected}</answer>" in solver_text
        return Score(1.0 if ok else 0.0, "right value" if ok else f"expected {expected}")


def _coin(*parts: str) -> int:
    return int(hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8], 16) % 100


def _schema_filler(schema: dict[str, Any]) -> Any:
    """A minimal valid instance of a JSON schema, for optimizer calls this world does not know."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][-1]
    if kind == "object":
        return {k: _schema_filler(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_schema_filler(schema.get("items", {}))]
    return {"integer": 1, "number": 1.0, "boolean": False}.get(str(kind), "Keep exact values.")


@dataclass
class World:
    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, call: ScriptedCall) -> str:
        system, user = call.messages[0]["content"], call.messages[-1]["content"]
        if call.model == "ext":
            found = FACT.search(user)
            if found is None:
                return "1. nothing notable"
            kind, value = found.groups()
            keep = f"KEEP-{kind.upper()}" in system or _coin(system, user) < 35
            memory = f"1. The user's {kind} is {value}." if keep else "1. The user likes tea."
            if '"extracted_memory"' in system:  # ACE's extractor names the playbook bullets it used
                return json.dumps({"reasoning": "r", "bullet_ids": re.findall(r"\[(\w+-\d+)\]", system)[:2],
                                   "extracted_memory": memory})
            return memory
        if call.model == "sol":
            asked = ASK.search(user)
            kept = re.search(rf"user's {asked.group(1)} is (\S+?)\.", system) if asked else None
            return f"<answer>{kept.group(1) if kept else 'unknown'}</answer>"
        return self._optimizer(call, user)

    def _optimizer(self, call: ScriptedCall, user: str) -> str:
        props = set((call.json_schema or {}).get("properties", {}))
        seed = call.decoding.seed or 0
        kind = KINDS[seed % len(KINDS)]
        # Rules differ in length so tournament ties break on tokens, not on wall-clock time.
        rule = f"- KEEP-{kind.upper()}: copy every {kind} exactly" + " and in full" * (seed % len(KINDS)) + "."
        kinds_seen = [k for k in KINDS if k in user] or list(KINDS)
        if call.json_schema is None:  # GEPA's reflection: a whole new prompt in fences
            self.calls["reflect"] += 1
            extra = "\n".join(f"- KEEP-{k.upper()}: copy every such value exactly." for k in kinds_seen)
            return f"```\n{user.split('```')[1].strip()}\n{extra}\n```"
        if "summary" in props:
            return json.dumps({"summary": f"The memory must keep the user's {kinds_seen[0]} exactly; it is "
                                          "said once, among small talk."})
        if "clusters" in props:
            groups: dict[str, list[str]] = {}
            for eid, summary in re.findall(r"- (e\d+) \[\w+\]: (.*)", user):
                groups.setdefault(next((k for k in KINDS if k in summary), "other"), []).append(eid)
            return json.dumps({"clusters": [{"id": "new", "label": f"keeping a {k}", "description": f"a {k} "
                                             "said once must survive", "members": m} for k, m in groups.items()]})
        if "action" in props:  # the analyst agent: one look at the overview, then its final answer
            if len(call.messages) <= 2:
                return json.dumps({"action": "overview", "page": 1})
            return json.dumps({"action": "final", "success_analysis": "kept values helped",
                               "failure_analysis": "values were dropped for small talk",
                               # The analyst must give 3-5 recommendations of at least 3 words each.
                               "recommendations": [*(f"Keep every {k} exactly." for k in kinds_seen),
                                                   "Write each memory as one self-contained sentence.",
                                                   "Leave out small talk that no later task needs."][:5]})
        if "edits" in props:
            return json.dumps({"rationale": "add the missing rule",
                               "edits": [{"section": "## Guidelines", "operation": "append", "text": rule}]})
        if "system_prompt" in props:  # the whole-prompt rewrite: the base prompt plus one rule
            base = re.search(r"<prompt>\n(.*?)\n</prompt>", user, re.DOTALL)
            return json.dumps({"candidate_id": "cand_01", "system_prompt": f"{base.group(1) if base else ''}\n{rule}",
                               "rationale": "add the missing rule"})
        if "bullet_tags" in props:
            used = re.findall(r"\[(\w+-\d+)\]", user.split("extractor used:")[-1])[:2]
            return json.dumps({"diagnosis": f"the {kinds_seen[0]} was not kept", "key_insight": "copy values",
                               "bullet_tags": [{"id": b, "tag": "helpful"} for b in used]})
        if "operations" in props:
            return json.dumps({"reasoning": "r", "operations": [{"type": "ADD_BULLET", "section": "gen",
                                                                 "content": rule[2:]}]})
        return json.dumps(_schema_filler(call.json_schema or {}))


# -- running one method --------------------------------------------------------------------------------------

@dataclass
class MethodCost:
    method: str
    new_rollouts: int
    reused_rollouts: int
    usage: dict[str, dict[str, float]]
    stopped_by: str
    did: str
    rounds: list[dict[str, int]] = field(default_factory=list)  # per round: new rollouts, tokens (all roles)


def load_method(method: str) -> Optimizer | None:
    module_name, _, class_name = METHODS[method].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(f"[{method}] not available yet: {exc}", file=sys.stderr)
        return None
    optimizer: Optimizer = getattr(module, class_name)()
    return optimizer


def read_lineage(method: str, run_dir: Path) -> Lineage:
    path = run_dir / LINEAGE
    raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    return lineage_of(raw, method, path)


def what_it_did(method: str, result: OptimizationResult, run_dir: Path) -> str:
    lineage = read_lineage(method, run_dir)
    if method == "gepa":
        statuses = Counter(e.status for e in lineage.entries)
        state = json.loads((run_dir / PRIVATE_STATE).read_text(encoding="utf-8"))
        return (f"{state.get('iterations', '?')} iterations ({state.get('perfect_minibatch_skips', 0)} skipped "
                f"on a perfect minibatch), {statuses['accepted'] + statuses['rejected']} proposals, "
                f"{statuses['accepted']} accepted; best {result.best.name}")
    if method == "ace":
        history = json.loads((run_dir / PRIVATE_STATE).read_text(encoding="utf-8")).get("history") or []
        bullets = history[-1]["bullets"] if history else 0
        retried = sum(1 for e in lineage.entries if isinstance(e.details, AceDetails) and e.details.retries)
        return f"{len(lineage.entries)} samples ({retried} reflected and retried), {bullets} playbook bullets"
    rounds = [r for r in lineage.rounds if r.winner_hash is not None]
    last = rounds[-1] if rounds else None
    candidates = sum(1 for e in lineage.entries if last is not None and e.origin.round == last.round)
    return f"{len(rounds)} round(s), {candidates} candidates, winner {last.winner_name if last else '-'}"


async def run_method(method: str, pairs: list[Pair], settings: EvolveSettings, budget: Budget,
                     run_dir: Path) -> MethodCost | None:
    optimizer = load_method(method)
    if optimizer is None:
        return None
    llm = LLM(load_settings(env=dict(ROLE_MODELS)), backend=ScriptedBackend(World()), cache=None)
    runner = Runner(llm, tasks=lambda ds: SyntheticTask(), info=lambda ds: ("personalization", False))
    store = RolloutStore(run_dir / method / "rollouts.jsonl")
    harness = Harness(runner, store, BudgetMeter(budget, llm.ledger))
    try:
        result = await optimizer.optimize(load_prompt("simple"), pairs, harness, settings, run_dir / method,
                                          resume=False)
    finally:
        store.close()
    progress = harness.recorder_for(run_dir / method).progress
    return MethodCost(method, harness.new_rollouts, harness.reused_rollouts, llm.ledger.snapshot(),
                      result.stopped_by, what_it_did(method, result, run_dir / method),
                      per_round(method, progress, run_dir / method))


def per_round(method: str, progress: list[RoundProgress], run_dir: Path) -> list[dict[str, int]]:
    """New rollouts (the lineage's rounds) and tokens (the recorded progress, cumulative) of each finished round."""
    tokens = [p.tokens_spent for p in progress]
    rollouts = [r.new_rollouts for r in read_lineage(method, run_dir).rounds if r.winner_hash is not None]
    return [{"rollouts": r, "tokens": t - (tokens[i - 1] if i else 0)}
            for i, (r, t) in enumerate(zip(rollouts, tokens, strict=False))]


def print_table(costs: list[MethodCost]) -> None:
    head = f"{'method':<10}{'rollouts':>9}{'reused':>8}  " + "".join(f"{r + ' calls':>16}" for r in ROLES)
    print(head + "".join(f"{r + ' tokens':>18}" for r in ROLES))
    for c in costs:
        calls = "".join(f"{int(c.usage[r]['calls']):>16}" for r in ROLES)
        tokens = "".join(f"{int(c.usage[r]['total_tokens']):>18}" for r in ROLES)
        print(f"{c.method:<10}{c.new_rollouts:>9}{c.reused_rollouts:>8}  {calls}{tokens}")
    print()
    for c in costs:
        print(f"{c.method:<10}{c.did}; stopped: {c.stopped_by}")


async def main(pair_count: int, run_dir: Path) -> int:
    settings = EvolveSettings(rounds=1)
    pairs = synthetic_pairs(pair_count)
    costs: list[MethodCost] = []
    for method, rounds in (("clue", 2), ("memevolve", 1)):
        cost = await run_method(method, pairs, EvolveSettings(rounds=rounds), Budget(), run_dir)
        if cost is not None:
            costs.append(cost)
    clue = next((c for c in costs if c.method == "clue"), None)
    # GEPA and ACE have no rounds: give them what CluE spent on its first round (else the reference figure).
    equal = clue.rounds[0]["rollouts"] if clue is not None and clue.rounds else REFERENCE_ROLLOUTS_PER_ROUND
    for method in ("gepa", "ace"):
        cost = await run_method(method, pairs, settings, Budget(max_rollouts=equal), run_dir)
        if cost is not None:
            costs.append(cost)
    print(f"rounds at the defaults (batch {settings.batch}, {settings.candidates} candidates, top "
          f"{settings.top}, resample {settings.resample}, <= {settings.max_clusters} clusters) on {pair_count} "
          f"synthetic pairs; gepa/ace budget = {equal} rollouts")
    print_table(costs)
    print(f"reference design: {REFERENCE_ROLLOUTS_PER_ROUND} rollouts per round (the base re-run in the "
          "tournament, the resampled finals pairs re-run; clue re-runs the finals pairs too and reuses the "
          "base's batch rollouts, --no-reuse-rollouts re-runs those, --reuse-finals reuses the finals')")
    if clue is None or len(clue.rounds) < 2:
        print("clue_rollouts_per_round: unavailable (CluE did not finish two rounds)")
        return 1
    first, second = clue.rounds[:2]
    print(f"clue_rollouts_round1: {first['rollouts']}")
    print(f"clue_rollouts_round2: {second['rollouts']}")
    print(f"clue_tokens_per_round: {(first['tokens'] + second['tokens']) // 2}")
    print(f"clue_rollouts_per_round: {first['rollouts']}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=160,
                        help="synthetic training pairs (>= 140 for two full rounds without wrapping)")
    parser.add_argument("--run-dir", type=Path, default=None, help="keep run directories here (default: temp)")
    args = parser.parse_args()
    if args.run_dir is not None:
        sys.exit(asyncio.run(main(args.pairs, args.run_dir)))
    with tempfile.TemporaryDirectory(prefix="evolve-cost-") as tmp:
        sys.exit(asyncio.run(main(args.pairs, Path(tmp))))
