"""The candidate tree and the cluster analyses of an evolution, from its typed lineage
(`clue.bench.run.lineage`): every method's candidates become the same `Node` tree here."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from clue.bench.run.lineage import AceDetails, Analysis, GepaDetails, Lineage, LineageEntry, TournamentDetails
from clue.bench.run.rollouts import Rollout, rollout_id
from clue.report.rundata import RunData


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


def _node(entry: LineageEntry, parent: str | None, names: dict[str, str]) -> Node:
    node = Node(id=entry.id, name=names.get(entry.hash or "", entry.name) if entry.status != "rejected" else entry.name,
                parent=parent, status=entry.status, reason=entry.reason, round=entry.origin.label(),
                hash=entry.hash, diff=entry.diff,
                scores=[(stage, _pct(s.accuracy)) for stage, s in entry.scores.items()])
    details = entry.details
    if isinstance(details, TournamentDetails):
        node.rationale, node.sources, node.notes = details.rationale, list(details.sources), list(details.notes)
        if entry.origin.round is not None:
            node.round = f"round {entry.origin.round}"
        edits = [f"{e.operation or '?'} {e.section}: {e.text}" for e in details.edits]
        if edits:
            node.details.append(("edits", edits))
    elif isinstance(details, GepaDetails):
        node.scores = [(label, f"{value:g}") for label, value in (("minibatch before", details.minibatch_before),
                                                                  ("minibatch after", details.minibatch_after))
                       if value is not None] + node.scores
    elif isinstance(details, AceDetails):
        node.scores.append(("retries", str(details.retries)))
        node.details += [(label, items) for label, items in (("operations", details.operations),
                                                             ("reflection", [details.reflection]))
                         if any(i.strip() for i in items)]
    return node


def _seed_node(hash_: str, lineage: Lineage, names: dict[str, str]) -> Node:
    return Node(id=hash_, name=names.get(hash_, f"{lineage.method} {hash_[:8]}"), parent=None, status="seed",
                reason="the seed prompt", hash=hash_)


def lineage_tree(run: RunData) -> list[Node]:
    """Each entry under the node of its parent prompt; a step that changed nothing is a note on its prompt."""
    lineage = run.lineage
    if lineage is None:
        return []
    names = run.prompt_names()
    nodes: dict[str, Node] = {}
    node_of_hash: dict[str, str] = {}
    roots: list[Node] = []
    for entry in lineage.entries:
        parent = next((node_of_hash[h] for h in entry.parents if h in node_of_hash), None)
        if parent is None and entry.parents:  # the seed of a method that lists only proposals
            seed = _seed_node(entry.parents[0], lineage, names)
            nodes[seed.id], node_of_hash[entry.parents[0]] = seed, seed.id
            roots.append(seed)
            parent = seed.id
        if entry.status == "unchanged" and entry.hash in node_of_hash:
            nodes[node_of_hash[entry.hash]].notes.append(f"{entry.origin.label()}: no change")
            continue
        node = _node(entry, parent, names)
        nodes[node.id] = node
        (nodes[parent].children if parent is not None else roots).append(node)
        if entry.hash and (entry.status in ("seed", "winner") or entry.hash not in node_of_hash):
            node_of_hash[entry.hash] = node.id
    _mark_bases(lineage, nodes, node_of_hash)
    best = lineage.best_hash or _best_hash(run)
    found = nodes[node_of_hash[best]] if best is not None and best in node_of_hash else None
    if found is not None and not (lineage.rounds and found.status == "seed"):  # a tournament's seed: no news
        found.notes.append("the best prompt of the run")
        if found.status in ("accepted", "proposed"):
            found.status = "best"
    return roots


def _mark_bases(lineage: Lineage, nodes: dict[str, Node], node_of_hash: dict[str, str]) -> None:
    for rs in lineage.rounds:
        if rs.winner_hash == rs.base_hash and rs.base_hash in node_of_hash:
            nodes[node_of_hash[rs.base_hash]].notes.append(
                f"round {rs.round}: kept as the base (no candidate beat it)")


def _best_hash(run: RunData) -> str | None:
    if run.log.evolution is not None and run.log.evolution.best_hash:
        return run.log.evolution.best_hash
    if run.best_prompt is not None:
        from clue.memory.prompts import prompt_hash

        return prompt_hash(run.best_prompt)
    return None


def count_nodes(roots: list[Node]) -> int:
    return sum(1 + count_nodes(n.children) for n in roots)


class CitedAnalysis(Analysis):
    cited_by: list[tuple[str, str]] = Field(default_factory=list)  # (candidate name, its status)


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
    analysis: Analysis | None
    cited_by: list[tuple[str, str]]  # (candidate name, its status)


@dataclass
class RoundClusters:
    round: int
    base: str
    clusters: list[ClusterView]
    other_analyses: list[CitedAnalysis]  # analyses not tied to a cluster (MemEvolve's global analysis)
    repairs: list[str]


def outcome(rollout: Rollout) -> str:
    """success | failure | error: the rollout's own (`Rollout.outcome`), the rule the optimizers use."""
    return rollout.outcome


def cluster_rounds(run: RunData, key_of: dict[str, str]) -> list[RoundClusters]:
    """Per round of a tournament method: clusters with their members' outcomes under the round's base prompt,
    the analysis of each, and the candidates whose edits cite it. `key_of` maps rollout ids to transcript keys."""
    if run.lineage is None or not run.lineage.rounds:
        return []
    by_id = {r.rollout_id: r for r in run.rollouts}
    tree = {n.id: n for n in _flatten(lineage_tree(run))}
    out = []
    for rs in run.lineage.rounds:
        analyses = {a.key: a for a in rs.analyses}
        citing: dict[str, list[tuple[str, str]]] = {}
        for entry in run.lineage.entries:
            if entry.origin.round != rs.round or not isinstance(entry.details, TournamentDetails):
                continue
            node = tree.get(entry.id)
            for source in entry.details.sources:
                citing.setdefault(source, []).append((entry.name, node.status if node else "?"))
        views = []
        for cluster in rs.clusters:
            members = []
            for example in cluster.members:
                position = int(example[1:]) - 1 if example[1:].isdigit() else -1
                pair_key = rs.batch[position] if 0 <= position < len(rs.batch) else "?"
                rid = rollout_id(rs.base_hash, pair_key, 0)
                found = by_id.get(rid)
                members.append(Member(example, pair_key, outcome(found) if found else "not run",
                                      found.reward if found else None, key_of.get(rid) if found else None))
            views.append(ClusterView(cluster.id, cluster.label, cluster.description, members,
                                     analyses.get(cluster.id), citing.get(cluster.id, [])))
        cluster_ids = {c.id for c in rs.clusters}
        others = [CitedAnalysis(**a.model_dump(), cited_by=citing.get(k, [])) for k, a in analyses.items()
                  if k not in cluster_ids]
        out.append(RoundClusters(rs.round, rs.base_name, views, others, rs.cluster_repairs))
    return out


def _flatten(roots: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in roots:
        out.append(node)
        out.extend(_flatten(node.children))
    return out
