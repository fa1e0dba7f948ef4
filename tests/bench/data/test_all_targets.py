"""Personalization test pairs use every target a source lists (the reference's evaluation), training the first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from clue.bench.data.loader import load_pairs

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = REPO_ROOT / "../shared/behemoth/data_collection/train"


def _root_with_a_multi_target_source(tmp_path: Path) -> tuple[Path, int, list[int]]:
    """A copy of the released membench-high files where one test source lists three of the file's targets."""
    train = tmp_path / "data_collection" / "train"
    shutil.copytree(SHARED / "membench-high", train / "membench-high")
    shutil.copy(SHARED / "global_split_per20.json", train / "global_split_per20.json")
    path = train / "membench-high" / "openai" / "Qwen3-32B" / "source_input.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    split = json.loads((train / "global_split_per20.json").read_text())
    train_ids = set(next(d for d in split["datasets"] if d["name"] == "membench-high")["train_source_ids"])
    row = next(r for r in rows if r["id"] not in train_ids)
    extra = [r["target_ids"][0] for r in rows if r["id"] in train_ids][:2]
    row["target_ids"] = [row["target_ids"][0], *extra]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, row["id"], row["target_ids"]


def test_every_matched_target_of_a_test_source_becomes_a_pair(tmp_path: Path) -> None:
    root, source_id, target_ids = _root_with_a_multi_target_source(tmp_path)
    warnings: list[str] = []
    test = load_pairs(root, "membench-high", "test", warn=warnings.append)
    assert [p.target_id for p in test if p.source_id == source_id] == target_ids
    assert len({p.key for p in test}) == len(test)
    train = load_pairs(root, "membench-high", "train", warn=warnings.append)
    assert all(p.source_id != source_id for p in train)
    assert len(train) == len({p.source_id for p in train})  # training keeps one target per source
    limited = load_pairs(root, "membench-high", "test", limit=5, warn=warnings.append)
    assert len(limited) == 5 and not warnings
