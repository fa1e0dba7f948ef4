"""Cluster a batch by extraction scenario: one LLM call against the persistent pool, then a deterministic
repair.

The model may reuse, relabel, merge or split pool clusters, or open new ones. Whatever it returns is repaired
to the rules: at most K clusters, every example in exactly one, each cluster with at least 2 examples
(unless the batch itself has fewer). Repairs are reported as notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field

from clue.evolve.replies import Replies, or_default
from clue.evolve.state import ClusterRecord, PoolCluster
from clue.evolve.summarize import ExampleLog, clip
from clue.llm.client import LLM
from clue.llm.types import LLMError, Message, TransientLLMError

MIN_SIZE = 2
_STOP_WORDS = (
    "the and for that with this from what must are was were has have had not but into its their them they "
    "than then when which while who will would can could should about more most some such only also each "
    "other been being does did very much many make makes made kept keep keeping information")
_STOP = frozenset(_STOP_WORDS.split(" "))


class ProposedCluster(BaseModel):
    id: Annotated[str, clip(20), Field(max_length=20)] = "new"
    label: Annotated[str, clip(60), Field(max_length=60)] = ""
    description: Annotated[str, clip(300), Field(max_length=300)] = ""
    members: Annotated[list[Annotated[str, clip(12), Field(max_length=12)]], clip(120),
                       Field(max_length=120)] = Field(default_factory=list)


class ClusteringReply(BaseModel):
    clusters: Annotated[list[ProposedCluster], clip(16), Field(min_length=1, max_length=16)]


def tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in _STOP}


@dataclass
class _Work:
    id: str
    label: str
    description: str
    members: list[str] = field(default_factory=list)

    def text(self) -> str:
        return f"{self.label} {self.description}"


def _similarity(a: _Work, b: _Work, summaries: dict[str, str]) -> float:
    ta = tokens(a.text() + " " + " ".join(summaries[m] for m in a.members))
    tb = tokens(b.text() + " " + " ".join(summaries[m] for m in b.members))
    return len(ta & tb) / len(ta | tb) if ta | tb else 0.0


def _merge_smallest(work: list[_Work], summaries: dict[str, str], why: str, notes: list[str]) -> None:
    """Merge the smallest cluster (the later one on ties) into its nearest neighbour."""
    small = min(range(len(work)), key=lambda i: (len(work[i].members), -i))
    victim = work.pop(small)
    target = max(work, key=lambda w: (_similarity(victim, w, summaries), -len(w.members)))
    target.members.extend(victim.members)
    notes.append(f"merged {victim.id} ({victim.label}, {len(victim.members)}) into {target.id}: {why}")


def repair_assignment(proposed: Sequence[ProposedCluster], summaries: dict[str, str], *, pool_ids: set[str],
                      max_clusters: int, new_id: Callable[[], str],
                      min_size: int = MIN_SIZE) -> tuple[list[ClusterRecord], list[str]]:
    """Make any proposal obey the rules. `summaries` maps every example id (in batch order) to its summary."""
    notes: list[str] = []
    work: list[_Work] = []
    used: set[str] = set()

    def fresh() -> str:
        cid = new_id()
        while cid in pool_ids or cid in used:
            cid = new_id()
        return cid

    for p in proposed:
        cid = p.id.strip()
        if cid not in pool_ids or cid in used:
            cid = fresh()
        used.add(cid)
        members: list[str] = []
        for raw in p.members:
            member = raw.strip()
            if member not in summaries:
                notes.append(f"dropped unknown example id {member!r}")
            elif member not in members:
                members.append(member)
        work.append(_Work(cid, p.label.strip() or f"scenario {cid}", p.description.strip(), members))
    # Examples claimed twice stay in the cluster that fits their summary best.
    for example, summary in summaries.items():
        owners = [w for w in work if example in w.members]
        if len(owners) > 1:
            keep = max(owners, key=lambda w: (len(tokens(summary) & tokens(w.text())), len(w.members)))
            for w in owners:
                if w is not keep:
                    w.members.remove(example)
            notes.append(f"{example} was in {len(owners)} clusters; kept in {keep.id}")
    if not work:
        work.append(_Work(fresh(), "general", "examples the clusterer left without a cluster"))
    for example, summary in summaries.items():
        if not any(example in w.members for w in work):
            best = max(work, key=lambda w: (len(tokens(summary) & tokens(w.text())), len(w.members)))
            best.members.append(example)
            notes.append(f"{example} was unassigned; put in {best.id}")
    work = [w for w in work if w.members]
    while len(work) > 1 and min(len(w.members) for w in work) < min_size:
        _merge_smallest(work, summaries, f"fewer than {min_size} examples", notes)
    while len(work) > max(max_clusters, 1):
        _merge_smallest(work, summaries, f"more than {max_clusters} clusters", notes)
    order = {example: i for i, example in enumerate(summaries)}
    return [ClusterRecord(id=w.id, label=w.label, description=w.description,
                          members=sorted(w.members, key=order.__getitem__)) for w in work], notes


def as_given(proposed: Sequence[ProposedCluster], summaries: dict[str, str], *, pool_ids: set[str],
             new_id: Callable[[], str]) -> tuple[list[ClusterRecord], list[str]]:
    """The clusterer's answer as it is (the reference): only unknown or repeated example ids are dropped, and
    an id that is not in the pool gets a fresh one. Examples it left out are not analysed."""
    notes: list[str] = []
    seen: set[str] = set()
    used: set[str] = set()
    clusters: list[ClusterRecord] = []
    for p in proposed:
        cid = p.id.strip()
        if cid not in pool_ids or cid in used:
            cid = new_id()
            while cid in pool_ids or cid in used:
                cid = new_id()
        used.add(cid)
        members = []
        for raw in p.members:
            member = raw.strip()
            if member in summaries and member not in seen:
                members.append(member)
                seen.add(member)
            else:
                notes.append(f"dropped {'unknown' if member not in summaries else 'repeated'} example id "
                             f"{member!r}")
        if members:
            clusters.append(ClusterRecord(id=cid, label=p.label.strip() or f"scenario {cid}",
                                          description=p.description.strip(), members=members))
    left = [e for e in summaries if e not in seen]
    if left:
        notes.append(f"{len(left)} examples in no cluster (not analysed): {', '.join(left)}")
    return clusters, notes


def fallback_proposal(logs: Sequence[ExampleLog], pool: Sequence[PoolCluster]) -> list[ProposedCluster]:
    """No usable reply: reuse the pool (members found by overlap in the repair), else split by outcome."""
    if pool:
        return [ProposedCluster(id=c.id, label=c.label, description=c.description) for c in pool]
    return [ProposedCluster(label="successes", description="examples where the memory led to success",
                            members=[log.id for log in logs if log.success]),
            ProposedCluster(label="failures", description="examples where the memory did not help",
                            members=[log.id for log in logs if not log.success])]


CLUSTERER = """You group memory-extraction examples by scenario: the kind of information that had to be \
kept and what made it hard. Never group by topic or dataset.
Rules: at most {k} clusters; every example id in exactly one cluster; at least 2 examples per cluster.
Existing clusters may be reused (keep their id), relabelled, merged or split; give new clusters the id "new".
Reply with JSON only: {{"clusters": [{{"id": "c1", "label": "short name", "description": "one sentence", \
"members": ["e01", "e02"]}}]}}"""


def cluster_messages(logs: Sequence[ExampleLog], pool: Sequence[PoolCluster],
                     max_clusters: int) -> list[Message]:
    existing = "\n".join(f"- {c.id}: {c.label}. {c.description}" for c in pool) or "(none yet)"
    examples = "\n".join(f"- {log.id} [{log.outcome}]: {log.summary}" for log in logs)
    return [{"role": "system", "content": CLUSTERER.format(k=max_clusters)},
            {"role": "user", "content": f"Existing clusters:\n{existing}\n\nExamples:\n{examples}\n\n"
                                        "Group the examples."}]


@dataclass
class Clustering:
    clusters: list[ClusterRecord]
    notes: list[str]
    used_model: bool  # False: the reply was unusable and the fallback grouping was repaired instead


async def cluster_examples(llm: LLM, logs: Sequence[ExampleLog], pool: Sequence[PoolCluster], *,
                           max_clusters: int, new_id: Callable[[], str], repair: bool = True,
                           replies: Replies | None = None) -> Clustering:
    """One call over the summaries (tagged success/failure) and the pool. With `repair` the result obeys the
    rules; without, the answer is taken as given (`as_given`)."""
    notes: list[str] = []
    proposal: list[ProposedCluster] | None = None
    try:
        messages = cluster_messages(logs, pool, max_clusters)
        result = await or_default(replies).ask(llm, "cluster", messages, ClusteringReply)
        if result.value is not None and result.value.clusters:
            proposal = list(result.value.clusters)
        else:
            notes.append(f"clusterer reply unusable ({result.error or 'no clusters'}); fallback grouping")
    except TransientLLMError:
        raise
    except LLMError as exc:
        notes.append(f"clusterer call failed ({str(exc)[:80]}); fallback grouping")
    used = proposal is not None
    summaries = {log.id: log.summary for log in logs}
    chosen = proposal if proposal is not None else fallback_proposal(logs, pool)
    if repair:
        clusters, repairs = repair_assignment(chosen, summaries, pool_ids={c.id for c in pool},
                                              max_clusters=max_clusters, new_id=new_id)
    else:
        clusters, repairs = as_given(chosen, summaries, pool_ids={c.id for c in pool}, new_id=new_id)
    return Clustering(clusters, notes + repairs, used)


def update_pool(pool: Sequence[PoolCluster], clusters: Sequence[ClusterRecord], round_index: int,
                cap: int) -> list[PoolCluster]:
    """This round's clusters first (with their new labels), then older ones not used this round."""
    fresh = [PoolCluster(id=c.id, label=c.label, description=c.description, last_round=round_index)
             for c in clusters]
    ids = {c.id for c in clusters}
    return (fresh + [c for c in pool if c.id not in ids])[:max(cap, len(fresh))]
