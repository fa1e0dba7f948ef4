"""Every file a run directory holds, named once. Only `RunRecorder` writes them (see recorder.py).

  log.json             the typed run record (spec, status, results, usage, progress, lineage): what every
                       view reads
  rollouts.jsonl       the samples, one rollout a line, appended as each finishes (what --resume reuses)
  test_rollouts.jsonl  an evolution's final seed-vs-best comparison on the test pairs
  usage.jsonl          one line per LLM call, so usage (and budgets) survive a kill
  prompt.txt           an eval's prompt text
  best_prompt.txt      an evolution's best prompt so far
  state.json           the optimizer's private resume state (read only by that optimizer)
  state.journal.jsonl  results that finished since state.json was written (one a line; emptied when it is)
  lineage.json         the typed lineage of an evolution (every candidate, its parent, scores and details)
  gepa/                the gepa library's own resume state
  .lock                who holds the directory (an OS lock while a run is live)
"""

from __future__ import annotations

LOG = "log.json"
ROLLOUTS = "rollouts.jsonl"
TEST_ROLLOUTS = "test_rollouts.jsonl"
USAGE_JOURNAL = "usage.jsonl"
PROMPT = "prompt.txt"
BEST_PROMPT = "best_prompt.txt"
PRIVATE_STATE = "state.json"
PRIVATE_JOURNAL = "state.journal.jsonl"
LINEAGE = "lineage.json"
GEPA_DIR = "gepa"
LOCK = ".lock"

# Written by clue before the run record held them (read by `clue show` / `clue report`, never written).
LEGACY_MANIFEST = "run.json"
LEGACY_RESULTS = "results.json"
LEGACY_USAGE = "usage.json"

# What marks a directory as a run directory.
RUN_MARKERS = (LOG, LEGACY_MANIFEST, PRIVATE_STATE)
