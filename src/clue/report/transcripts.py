"""Rollouts packed for the browser: a small index for the list, and the full records in gzip chunks.

The list (filters, pages) works on the index alone; a transcript's chunk is decoded in the browser
(`DecompressionStream`) only when it is opened. Rollouts of one pair share a chunk, and inside a chunk every
long text (an extraction prompt, a source conversation) is stored once and referenced, so ten thousand
rollouts of a few hundred pairs stay a few megabytes. A text longer than `max_chars` keeps its head and tail
and says how much was cut and where the full text is.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.run.rollouts import Rollout
from clue.report.lineage_view import outcome
from clue.report.rundata import TEST_SAMPLES, RunData

CHUNK_SIZE = 100
INTERN_CHARS = 400  # texts at least this long are stored once per chunk
DEFAULT_MAX_CHARS = 20_000


def transcript_key(run_index: int, split: str, rollout_id: str) -> str:
    return f"{run_index}|{split}|{rollout_id}"


def clip_text(text: str, max_chars: int, where: str) -> str:
    if len(text) <= max_chars:
        return text
    head = (max_chars * 3) // 4
    tail = max_chars - head
    return (f"{text[:head]}\n[... {len(text) - max_chars:,} characters cut in this report; the full text is in "
            f"{where} ...]\n{text[-tail:]}")


@dataclass
class _Chunk:
    texts: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)

    def pack(self, value: Any, max_chars: int, where: str) -> Any:
        """Copy `value`, clipping long strings and replacing them with {"$t": i} into this chunk's texts."""
        if isinstance(value, str):
            if len(value) < INTERN_CHARS:
                return value
            text = clip_text(value, max_chars, where)
            if text not in self.index:
                self.index[text] = len(self.texts)
                self.texts.append(text)
            return {"$t": self.index[text]}
        if isinstance(value, list):
            return [self.pack(v, max_chars, where) for v in value]
        if isinstance(value, dict):
            return {k: self.pack(v, max_chars, where) for k, v in value.items()}
        return value

    def encode(self) -> str:
        raw = json.dumps({"texts": self.texts, "records": self.records}, separators=(",", ":"))
        return base64.b64encode(gzip.compress(raw.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


@dataclass
class TranscriptData:
    """`index` columns: key, run, split, dataset, prompt, outcome, reward, pair, repeat, tokens, chunk, slot."""

    runs: list[str]
    datasets: list[str]
    prompts: list[str]
    index: list[list[Any]]
    chunks: list[str]
    keys: dict[str, str]  # "run_index|rollout_id" -> transcript key (links from cluster members)
    raw_chars: int = 0


def _record(rollout: Rollout, run_label: str, split: str) -> dict[str, Any]:
    data = rollout.model_dump(mode="json")
    data["run"] = run_label
    data["split"] = split
    data["pair_key"] = rollout.pair_key
    data["tokens"] = rollout.tokens
    return data


def pack_transcripts(runs: list[RunData], *, max_chars: int = DEFAULT_MAX_CHARS,
                     chunk_size: int = CHUNK_SIZE) -> TranscriptData:
    runs_names = [r.label for r in runs]
    datasets: dict[str, int] = {}
    prompts: dict[str, int] = {}
    entries: list[tuple[int, str, Rollout, Path]] = []
    for run_index, run in enumerate(runs):
        train_split = "train" if run.kind == "evolve" else (run.log.spec.split or "eval")
        entries += [(run_index, train_split, r, run.path / run.log.samples.path) for r in run.rollouts]
        entries += [(run_index, "test", r, run.path / TEST_SAMPLES) for r in run.test_rollouts]
    # Rollouts of one pair side by side: they share their source, which each chunk stores once.
    entries.sort(key=lambda e: (e[0], e[2].pair_key, e[1], e[2].prompt_hash, e[2].repeat))
    index: list[list[Any]] = []
    chunks: list[str] = []
    keys: dict[str, str] = {}
    chunk = _Chunk()
    raw_chars = 0
    for run_index, split, rollout, samples in entries:
        if len(chunk.records) == chunk_size:
            chunks.append(chunk.encode())
            chunk = _Chunk()
        where = f"{samples} (rollout {rollout.rollout_id})"
        record = _record(rollout, runs[run_index].label, split)
        raw_chars += len(json.dumps(record))
        chunk.records.append(chunk.pack(record, max_chars, where))
        key = transcript_key(run_index, split, rollout.rollout_id)
        keys.setdefault(f"{run_index}|{rollout.rollout_id}", key)
        prompt_label = f"{rollout.prompt_name} ({rollout.prompt_hash[:8]})"
        index.append([key, run_index, split, datasets.setdefault(rollout.dataset, len(datasets)),
                      prompts.setdefault(prompt_label, len(prompts)), outcome(rollout), round(rollout.reward, 4),
                      rollout.pair_key, rollout.repeat, rollout.tokens, len(chunks), len(chunk.records) - 1])
    if chunk.records:
        chunks.append(chunk.encode())
    return TranscriptData(runs_names, list(datasets), list(prompts), index, chunks, keys, raw_chars)
