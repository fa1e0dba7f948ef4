"""Which pairs a CluE/MemEvolve round runs on, and the most new rollouts it can still need.

Pairs (the reference schedule): round r's batch is `batch` pairs from the cursor; its finals use `resample`
pairs drawn (seeded) from this round's batch plus the next `batch` pairs; the pool wraps around.

Cost: a round starts only when the budget can finish it (`round_rollouts` is its worst case: every prompt,
pair and repeat its unfinished steps may run that the rollout store does not hold yet; candidates not drafted
yet count as new prompts, and the finals as if the costliest entrants reached them).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from clue.bench.run.rollouts import rollout_id
from clue.evolve.protocol import EvolveSettings
from clue.evolve.state import RoundState

Triple = tuple[str, str, int]  # (prompt hash, pair key, repeat)


def pool_slice(pool: Sequence[str], start: int, n: int) -> list[str]:
    """`n` keys from `start`, wrapping around a pool that runs out."""
    if not pool:
        return []
    return [pool[(start + i) % len(pool)] for i in range(min(n, len(pool)))]


def finals_keys(pool: Sequence[str], cursor: int, batch: int, resample: int, seed: int,
                round_index: int) -> tuple[list[str], list[str]]:
    """(resampled, new): `resample` keys drawn (seeded) from this round's batch, and the next `batch` keys
    (those already in the resampled draw are not repeated)."""
    current = pool_slice(pool, cursor, batch)
    rng = random.Random(seed * 1000 + round_index)
    picked = rng.sample(current, min(resample, len(current)))
    taken = set(picked)
    new = [k for k in dict.fromkeys(pool_slice(pool, cursor + batch, batch)) if k not in taken]
    return picked, new


def round_entrants(rs: RoundState, candidates: int) -> list[str]:
    """The base and every candidate that may enter the tournament; one not drafted yet is a placeholder."""
    drafted = {c.index: c for c in rs.candidates.values()}
    hashes = [rs.base_hash]
    for index in range(candidates):
        candidate = drafted.get(index)
        if candidate is None:
            hashes.append(f"undrafted-{index}")
        elif candidate.rejected is None and candidate.hash is not None:
            hashes.append(candidate.hash)
    return list(dict.fromkeys(hashes))


def round_rollouts(rs: RoundState, settings: EvolveSettings, finals_pairs: Sequence[str],
                   repeat: Callable[[str], int], stored: Callable[[str], bool]) -> int:
    """Worst-case new rollouts of the round's unfinished steps. `stored(rollout_id)` says what the store holds."""
    needed: set[Triple] = set()
    if "baseline" not in rs.done:
        needed |= {(rs.base_hash, key, repeat("baseline")) for key in rs.batch}
    entrants = round_entrants(rs, settings.candidates)
    if "tournament" not in rs.done:
        needed |= {(h, key, repeat("tournament")) for h in entrants for key in rs.batch}
    if "finals" not in rs.done:
        finalists = rs.finalists if "tournament" in rs.done else entrants

        def finals_cost(prompt: str) -> set[Triple]:
            triples = {(prompt, key, repeat("finals")) for key in finals_pairs}
            return {t for t in triples - needed if not stored(rollout_id(*t))}

        costs = sorted((finals_cost(h) for h in finalists), key=len, reverse=True)
        top = min(settings.top, len(finalists)) if "tournament" not in rs.done else len(finalists)
        if top > 1:  # a single finalist wins without finals
            for triples in costs[:top]:
                needed |= triples
    return sum(1 for t in needed if not stored(rollout_id(*t)))
