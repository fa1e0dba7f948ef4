"""The contract every optimizer implements. One method is one module behind this protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from clue.bench.data.records import Pair
from clue.evolve.harness import Harness
from clue.evolve.replies import Replies, ReplyCounts
from clue.memory.prompts import ExtractionPrompt


def knob(default: Any, help: str, *, paper: str = "") -> Any:
    """A setting with its help text; `paper` names the reference behaviour when clue's default differs."""
    return field(default=default, metadata={"help": help, "paper": paper})


@dataclass(frozen=True)
class EvolveSettings:
    """Every knob of every method. Defaults follow the paper and its reference code; where clue keeps a
    different default, `paper` in the field's metadata names the setting that restores the reference."""

    # -- CluE / MemEvolve rounds -------------------------------------------------------------------------
    rounds: int = knob(5, "Rounds.")
    batch: int = knob(35, "Training pairs per round.")
    candidates: int = knob(3, "Candidates synthesized per round.")
    top: int = knob(2, "Finalists kept after the tournament.")
    resample: int = knob(10, "Finals pairs resampled from this round's batch.")
    max_clusters: int = knob(7, "Most clusters per round (CluE).")
    seed: int = knob(42, "Random seed for the pool order, resampling and GEPA/ACE order.")
    cursor_advance: int | None = knob(None, "Pool cursor step after a round; default 2 x batch (the finals' new "
                                            "pairs never become a training batch).")
    tie_break: Literal["incumbent", "tokens"] = knob(
        "incumbent", "Accuracy ties: incumbent (reference code: the base, then earlier candidates, wins) or "
                     "tokens (the paper's text: fewer tokens, then less time).")
    reuse_rollouts: bool = knob(True, "Serve the base's batch rollouts from the store in the tournament (clue); "
                                      "off re-runs the base there, like the reference.",
                                paper="reuse_rollouts=false")
    reuse_finals: bool = knob(False, "Serve the finalists' resampled finals pairs from their tournament rollouts "
                                     "(clue's earlier default; a finalist's score then partly comes from the "
                                     "rollouts it was selected on); off re-runs them, as the reference does.")
    concurrent_candidates: bool = knob(True, "Evaluate tournament/finals entrants concurrently (clue); off runs "
                                             "them one after another like the reference.",
                                       paper="concurrent_candidates=false")
    cluster_repair: bool = knob(True, "Repair the clusterer's answer to the rules (<= K clusters, >= 2 "
                                      "examples each, every example once); off takes it as given.",
                                paper="cluster_repair=false")
    guardrails: bool = knob(True, "Reject truncated, over-long or training-leaking candidates (clue).",
                            paper="guardrails=false")
    max_prompt_chars: int = knob(12000, "Guardrail: longest candidate prompt, in characters.")
    leak_ngram: int = knob(8, "Guardrail: a candidate may not share this many consecutive words with "
                              "training data.")
    # -- what optimizer LLMs see (shared by every method) -------------------------------------------------
    reply_attempts: int = knob(2, "Tries per optimizer reply: a reply that is not usable JSON is asked again "
                                  "with the parse error, up to this many tries in all; then it is counted as "
                                  "unusable.")
    feedback_gold: bool = knob(False, "Show the gold answer to optimizer LLMs (the reference never does).")
    summary_chars: int | None = knob(4096, "Source / solver characters the scenario summarizer sees.")
    # -- cluster analyst (CluE) and global analyst (MemEvolve) --------------------------------------------
    analysis_mode: Literal["tools", "context"] = knob(
        "tools", "tools: the analyst pages through the logs with tool calls (reference); context: the logs "
                 "go into one prompt, cut to analysis_context_chars (for small local models).")
    analysis_steps: int = knob(20, "Step cap of the analyst's tool loop, final answer included.")
    analysis_context_chars: int = knob(6000, "Log characters in context mode.")
    overview_page_size: int = knob(10, "Examples per overview page of the analyst's tool.")
    case_chars: int | None = knob(None, "Characters per field of a case the analyst opens (None: whole).")
    analysis_text_chars: int | None = knob(None, "Cap on each analysis field and recommendation (None: "
                                                 "free-form, like the reference).")
    # -- synthesis ----------------------------------------------------------------------------------------
    synthesis_mode: Literal["rewrite", "edits"] = knob(
        "rewrite", "rewrite: the synthesizer writes the whole prompt (reference); edits: it returns section "
                   "edits applied deterministically (untouched sections keep their bytes).")
    max_edits: int = knob(5, "Most section edits per candidate in edits mode.")
    synthesis_max_tokens: int | None = knob(
        None, "Reply limit of a synthesis call; default 20000 against an openai endpoint (the reference), the "
              "optimizer's max_tokens on the embedded model.")
    # -- GEPA ---------------------------------------------------------------------------------------------
    gepa_minibatch: int = knob(5, "GEPA reflection minibatch size.")
    gepa_val_fraction: float = knob(0.5, "Share of each dataset's training pairs held out for GEPA's Pareto "
                                          "validation (stratified per dataset).")
    gepa_template: Literal["library", "clue"] = knob(
        "library", "GEPA's reflection prompt: the gepa library's own (reference) or clue's, which also "
                   "asks for general guidance and keeps the output format.")
    gepa_source_chars: int | None = knob(500, "Source / solver characters per example in GEPA's feedback.")
    # -- ACE ----------------------------------------------------------------------------------------------
    ace_epochs: int = knob(1, "ACE passes over the training pool.")
    ace_reflect_rounds: int = knob(3, "ACE reflect-and-retry rounds on an incorrect sample.")
    ace_curator_every: int = knob(1, "Run ACE's curator every N samples.")
    ace_token_budget: int = knob(80000, "ACE playbook token budget (told to the curator, enforced).")
    ace_track_post_curate: bool = knob(True, "After curation, re-run the sample with the new playbook to "
                                             "track post-train accuracy (reference; one more rollout per sample).")
    ace_reflector_chars: int | None = knob(4096, "Source / solver characters ACE's reflector sees.")

    @property
    def advance(self) -> int:
        return self.cursor_advance if self.cursor_advance is not None else 2 * self.batch

    def replies(self, counts: ReplyCounts) -> Replies:
        return Replies(counts, self.reply_attempts)


@dataclass
class OptimizationResult:
    best: ExtractionPrompt
    stopped_by: str = "finished"  # "finished" | "budget: <reason>"
    replies: ReplyCounts = field(default_factory=ReplyCounts)  # optimizer replies per step, unusable ones counted

    @property
    def unusable_replies(self) -> dict[str, int]:
        """Per step (summary, cluster, analysis, synthesis, reflection, reflector, curator): replies that stayed
        unusable after every re-ask."""
        return dict(self.replies.unusable)


class Optimizer(Protocol):
    name: str

    async def optimize(self, seed_prompt: ExtractionPrompt, train_pairs: list[Pair], harness: Harness,
                       settings: EvolveSettings, run_dir: Path, resume: bool) -> OptimizationResult:
        """Evolve from `seed_prompt` using only `train_pairs`. Stop cleanly on BudgetExhausted.

        Record through `harness.recorder_for(run_dir)` (progress, lineage, best prompt, private resume
        state; never a file of its own) enough that a killed run continues with `resume=True` and redoes
        no finished rollout.
        """
        ...
