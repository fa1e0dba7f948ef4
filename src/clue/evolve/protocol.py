"""The contract every optimizer implements. One method is one module behind this protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from clue.bench.records import Pair
from clue.evolve.harness import Harness
from clue.memory.prompts import ExtractionPrompt


@dataclass(frozen=True)
class EvolveSettings:
    """Defaults follow the protocol: 5 rounds, batch 35, 3 candidates, top 2, 10 resampled, <=7 clusters."""

    rounds: int = 5
    batch: int = 35
    candidates: int = 3
    top: int = 2
    resample: int = 10
    max_clusters: int = 7
    seed: int = 42
    max_prompt_chars: int = 12000  # guardrail: length cap on a candidate prompt
    leak_ngram: int = 8  # guardrail: a candidate may not share this many consecutive words with training data
    # Cluster analysis: "tools" lets the analyst page through the logs (JSON actions); "context" puts the
    # logs in the prompt, truncated to `analysis_context_chars`. Tools fall back to context on bad replies.
    analysis_mode: Literal["tools", "context"] = "tools"
    analysis_steps: int = 4  # step cap of the tool loop, final answer included
    analysis_context_chars: int = 6000
    overview_page_size: int = 10


@dataclass
class OptimizationResult:
    best: ExtractionPrompt
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = "finished"  # "finished" | "budget: <reason>"


class Optimizer(Protocol):
    name: str

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        """Evolve from `seed_prompt` using only `train_pairs`. Stop cleanly on BudgetExhausted.

        Persist enough under `run_dir` (state.json, best_prompt.txt, lineage.json) that a killed run
        continues with `resume=True` and redoes no finished rollout.
        """
        ...
