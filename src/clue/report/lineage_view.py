"""The candidate tree and the cluster analyses of an evolution, from its `lineage.json`.

Two shapes exist: the tournament methods (CluE, MemEvolve) write a dict of rounds (clusters -> analyses ->
candidates -> tournament -> finals); GEPA and ACE write a list of entries, each a prompt with its parent
hash, a diff and its scores. Both become the same `Node` tree here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clue.bench.run.rollouts import Rollout, rollout_id
from clue.report.rundata import RunData

# Entry fields shown as text details, not as scores (GEPA, ACE).
LIST_DETAILS = ("insights", "operations", "reflection")
HIDDEN = {"hash", "parent", "diff", "prompt", "status", "reason", "pairs", "pair", *LIST_DETAILS}


@dataclass
class Node:
    id: str
    name: str
    parent: str | None
    status: str  # seed | winner | finals | tournament | rejected | accepted | best | pending
    reason: str = ""
    round: str = ""
    hash: str | None = None
    scores: list[tuple[str, str]] = field(default_factory=list)  # (label, formatted value)
    diff: str = ""
    rationale: str = ""
    sources: list[str] = field(default_factory=list)  # analysis keys (cluster ids) its edits cite
    details: list[tuple[str, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _shown(name: str, value: float) -> str:
    """Accuracies and scores in [0, 1] as percentages; anything else (GEPA's minibatch sums, counts) as is."""
    fraction = 0.0 <= value <= 1.0 and ("score" in name or "accuracy" in name)
    return _pct(value) if fraction else f"{value:g}"


def _accuracy(score: dict[str, Any] | None) -> float | None:
    return None if not score else score.get("accuracy")


def _candidate_verdict(c: dict[str, Any], rs: dict[str, Any], names: dict[str, str]) -> tuple[str, str]:
    if c.get("rejected"):
        return "rejected", f"rejected before the tournament: {c['rejected']}"
    winner = rs.get("winner") or {}
    tournament, finals = _accuracy(c.get("tournament")), _accuracy(c.get("finals"))
    if tournament is None:
        return "pending", f"round stopped at step {rs.get('step_reached', '?')} before it was scored"
    if winner.get("hash") == c.get("hash"):
        if finals is None:
            return "winner", f"won the round as the only finalist (tournament {_pct(tournament)})"
        return "winner", f"won the finals ({_pct(finals)})"
    if c.get("finalist"):
        if not winner:
            return "finals", f"finalist (tournament {_pct(tournament)}); finals not run yet"
        best = next((s for s in rs.get("finals", []) if s["prompt_hash"] == winner["hash"]), None)
        return "finals", (f"lost the finals to {names.get(winner['hash'], winner['name'])}: {_pct(finals)} vs "
                          f"{_pct(best['accuracy'] if best else None)}")
    return "tournament", (f"not among the {len(rs.get('finalists', []))} finalists of the tournament "
                          f"({_pct(tournament)})")


def _tournament_tree(lineage: dict[str, Any], names: dict[str, str]) -> list[Node]:
    seed_hash = lineage.get("seed")
    rounds = lineage.get("rounds", [])
    seed_name = rounds[0]["base"]["name"] if rounds else names.get(seed_hash or "", "seed")
    root = Node(id="seed", name=seed_name, parent=None, status="seed", reason="the seed prompt", hash=seed_hash)
    nodes = {"seed": root}
    node_of_hash: dict[str, str] = {seed_hash or "": "seed"}
    for rs in rounds:
        number = rs["round"]
        base_id = node_of_hash.get(rs["base"]["hash"], "seed")
        base = nodes[base_id]
        for label, key in (("batch", "batch_score"), ("tournament", "tournament"), ("finals", "finals")):
            value = _accuracy(rs["base"].get(key))
            if value is not None:
                base.scores.append((f"r{number} {label}", _pct(value)))
        winner = rs.get("winner") or {}
        if winner.get("hash") == rs["base"]["hash"]:
            base.notes.append(f"round {number}: kept as the base (no candidate beat it)")
        for c in rs.get("candidates", []):
            status, reason = _candidate_verdict(c, rs, names)
            node = Node(id=f"r{number}-{c['name']}", name=c["name"], parent=base_id, status=status, reason=reason,
                        round=f"round {number}", hash=c.get("hash"), diff=c.get("diff") or "",
                        rationale=c.get("rationale", ""), sources=list(c.get("sources", [])),
                        notes=list(c.get("notes", [])))
            for label in ("tournament", "finals"):
                value = _accuracy(c.get(label))
                if value is not None:
                    node.scores.append((label, _pct(value)))
            edits = [f"{e.get('operation', '?')} {e.get('section', '')}: {e.get('text', '')}"
                     for e in c.get("edits", [])]
            if edits:
                node.details.append(("edits", edits))
            nodes[node.id] = node
            base.children.append(node)
            if status == "winner" and c.get("hash"):
                node_of_hash[c["hash"]] = node.id
    best = (lineage.get("best") or {}).get("hash")
    if best in node_of_hash and nodes[node_of_hash[best]].status != "seed":
        nodes[node_of_hash[best]].notes.append("the best prompt of the run")
    return [root]


def _entry_tree(entries: list[dict[str, Any]], best_hash: str | None, method: str,
                names: dict[str, str]) -> list[Node]:
    """GEPA / ACE style: one entry per proposed prompt (or per step), linked by parent hash."""
    nodes: dict[str, Node] = {}
    order: list[str] = []
    for index, entry in enumerate(entries):
        key, parent = entry.get("hash"), entry.get("parent")
        if not isinstance(key, str):
            continue
        if isinstance(parent, str) and parent not in nodes:
            nodes[parent] = Node(id=parent, name=names.get(parent, f"{method} {parent[:8]}"), parent=None,
                                 status="seed", reason="the seed prompt", hash=parent)
            order.append(parent)
        if parent == key:  # a step that left the prompt unchanged (an ACE step whose edits changed nothing)
            step = ", ".join(f"{k} {entry[k]}" for k in ("epoch", "step", "pair") if k in entry)
            nodes[key].notes.append(f"{step or f'entry {index + 1}'}: no change")
            continue
        node = nodes.get(key)
        if node is None:
            status = str(entry.get("status") or ("seed" if parent is None else "accepted"))
            node = Node(id=key, name=names.get(key, f"{method} {key[:8]}"),
                        parent=parent if isinstance(parent, str) else None,
                        status=status, reason=str(entry.get("reason") or ""), hash=key,
                        diff=str(entry.get("diff") or ""))
            where = [f"{k} {entry[k]}" for k in ("iteration", "epoch", "step") if k in entry]
            node.round = ", ".join(where)
            nodes[key] = node
            order.append(key)
        for name, value in entry.items():
            if name not in HIDDEN and isinstance(value, int | float) and not isinstance(value, bool) \
                    and name not in {"iteration", "epoch", "step", "bullets", "val_examples"}:
                node.scores.append((name, _shown(name, float(value))))
        for name in LIST_DETAILS:
            items = entry.get(name)
            if isinstance(items, str) and items.strip():
                items = [items]
            if isinstance(items, list) and items:
                node.details.append((name, [str(i) for i in items]))
    if best_hash in nodes:
        nodes[best_hash].notes.append("the best prompt of the run")
        if nodes[best_hash].status in ("accepted", "proposed"):
            nodes[best_hash].status = "best"
    roots = []
    for key in order:
        node = nodes[key]
        if node.parent in nodes:
            nodes[node.parent].children.append(node)
        else:
            roots.append(node)
    return roots


def lineage_tree(run: RunData) -> list[Node]:
    names = run.prompt_names()
    if isinstance(run.lineage, dict) and "rounds" in run.lineage:
        return _tournament_tree(run.lineage, names)
    if isinstance(run.lineage, list):
        best = run.log.evolution.best_hash if run.log.evolution is not None else None
        if best is None and run.best_prompt is not None:
            from clue.memory.prompts import prompt_hash

            best = prompt_hash(run.best_prompt)
        return _entry_tree([e for e in run.lineage if isinstance(e, dict)], best, run.method or "prompt", names)
    return []


def count_nodes(roots: list[Node]) -> int:
    return sum(1 + count_nodes(n.children) for n in roots)


@dataclass
class Member:
    example: str
    pair_key: str
    outcome: str  # success | failure | not run
    reward: float | None
    rollout: str | None  # transcript key (see transcripts.transcript_key)


@dataclass
class ClusterView:
    id: str
    label: str
    description: str
    members: list[Member]
    analysis: dict[str, Any] | None
    cited_by: list[tuple[str, str]]  # (candidate name, its status)


@dataclass
class RoundClusters:
    round: int
    base: str
    clusters: list[ClusterView]
    other_analyses: list[dict[str, Any]]  # analyses not tied to a cluster (MemEvolve's global analysis)
    repairs: list[str]


def outcome(rollout: Rollout) -> str:
    """success | failure | error: the rollout's own (`Rollout.outcome`), the rule the optimizers use."""
    return rollout.outcome


def cluster_rounds(run: RunData, key_of: dict[str, str]) -> list[RoundClusters]:
    """Per round of a tournament method: clusters with their members' outcomes under the round's base prompt,
    the analysis of each, and the candidates whose edits cite it. `key_of` maps rollout ids to transcript keys."""
    if not (isinstance(run.lineage, dict) and "rounds" in run.lineage):
        return []
    by_id = {r.rollout_id: r for r in run.rollouts}
    tree = {n.id: n for n in _flatten(lineage_tree(run))}
    out = []
    for rs in run.lineage["rounds"]:
        batch: list[str] = rs.get("batch", [])
        analyses = {a["key"]: a for a in rs.get("analyses", [])}
        citing: dict[str, list[tuple[str, str]]] = {}
        for c in rs.get("candidates", []):
            node = tree.get(f"r{rs['round']}-{c['name']}")
            for source in c.get("sources", []):
                citing.setdefault(source, []).append((c["name"], node.status if node else "?"))
        views = []
        for cluster in rs.get("clusters", []):
            members = []
            for example in cluster.get("members", []):
                position = int(example[1:]) - 1 if example[1:].isdigit() else -1
                pair_key = batch[position] if 0 <= position < len(batch) else "?"
                rid = rollout_id(rs["base"]["hash"], pair_key, 0)
                found = by_id.get(rid)
                members.append(Member(example, pair_key, outcome(found) if found else "not run",
                                      found.reward if found else None, key_of.get(rid) if found else None))
            views.append(ClusterView(cluster["id"], cluster.get("label", ""), cluster.get("description", ""),
                                     members, analyses.get(cluster["id"]), citing.get(cluster["id"], [])))
        cluster_ids = {c["id"] for c in rs.get("clusters", [])}
        others = [{**a, "cited_by": citing.get(k, [])} for k, a in analyses.items() if k not in cluster_ids]
        out.append(RoundClusters(rs["round"], rs["base"]["name"], views, others, rs.get("cluster_repairs", [])))
    return out


def _flatten(roots: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in roots:
        out.append(node)
        out.extend(_flatten(node.children))
    return out
