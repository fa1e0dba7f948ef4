"""The typed run record: version-1 logs are read into version 2, other versions are refused in one line; every
method's lineage.json is read into the one typed lineage; the atomic write leaves no temporary file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.bench.run.lineage import AceDetails, GepaDetails, Lineage, LineageEntry, StageScore
from clue.bench.run.lineage_read import lineage_of
from clue.bench.run.record import RUNLOG_VERSION, read_runlog
from clue.errors import BadInputError
from clue.fileio import write_atomic

ROLES = {"extractor": {"backend": "scripted", "model": "ext", "temperature": 0.7, "top_p": 0.8, "max_tokens": 64}}
RESULTS = {"prompt_name": "simple", "prompt_hash": "h", "datasets": [], "category_macro": {}, "id_macro": None,
           "ood_macro": None}


def _v1(tmp_path: Path, **extra: object) -> Path:
    log = {"version": 1, "status": "finished", "started": "2026-01-01T00:00:00+00:00",
           "spec": {"clue_version": "0.1.0", "command": "evolve", "roles": ROLES, "method": "clue"}, **extra}
    (tmp_path / "log.json").write_text(json.dumps(log))
    return tmp_path


def test_a_version_1_evolve_log_is_read_into_version_2(tmp_path: Path) -> None:
    _v1(tmp_path, results={"seed": RESULTS, "best": {**RESULTS, "prompt_name": "clue-r1-c1"}, "best_hash": "b",
                           "budget": {"rollouts_spent": 12}},
        evolution={"method": "clue", "state_path": "state.json", "progress": []})
    log = read_runlog(tmp_path)
    assert log.version == RUNLOG_VERSION and log.results is None and log.evolution is not None
    assert log.evolution.best_results is not None and log.evolution.best_results.prompt_name == "clue-r1-c1"
    assert log.evolution.best_hash == "b" and log.evolution.budget == {"rollouts_spent": 12}
    assert [r.prompt_name for r in log.all_results] == ["simple", "clue-r1-c1"]


def test_a_version_1_eval_log_keeps_its_results(tmp_path: Path) -> None:
    _v1(tmp_path, results=RESULTS)
    log = read_runlog(tmp_path)
    assert log.results is not None and log.results.prompt_name == "simple" and log.evolution is None


def test_an_unknown_version_is_refused_naming_the_clue_that_wrote_it(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(json.dumps({"version": 7, "spec": {"clue_version": "9.0"}}))
    with pytest.raises(BadInputError, match=r"run log version 7 \(written by clue 9\.0\); this clue reads "
                                            r"versions 1, 2"):
        read_runlog(tmp_path)


def test_a_malformed_log_is_one_line_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(json.dumps({"version": 2, "status": "odd", "started": "x",
                                                   "spec": {"clue_version": "x", "command": "eval", "roles": {}}}))
    with pytest.raises(BadInputError, match=r"log.json: run log field status: "):
        read_runlog(tmp_path)


def test_gepa_and_ace_lineages_are_one_typed_schema(tmp_path: Path) -> None:
    gepa = lineage_of([{"hash": "a", "parent": None, "iteration": 0, "status": "seed", "val_score": 0.5},
                       {"hash": "b", "parent": "a", "iteration": 1, "status": "accepted", "val_score": 0.75,
                        "val_examples": 4, "minibatch_before": 1.0, "minibatch_after": 3.0, "diff": "+x"}],
                      "gepa", tmp_path / "lineage.json")
    child = gepa.entries[1]
    assert child.parents == ["a"] and child.origin.iteration == 1 and child.status == "accepted"
    assert child.scores["validation"].accuracy == 0.75 and child.scores["validation"].n == 4
    assert isinstance(child.details, GepaDetails) and child.details.minibatch_after == 3.0
    ace = lineage_of([{"epoch": 0, "step": 0, "pair": "p:1:1", "hash": "a", "parent": "a", "operations": [],
                       "retries": 2}, {"epoch": 0, "step": 1, "pair": "p:2:2", "hash": "c", "parent": "a",
                                       "operations": ["ADD x"], "reflection": "r"}], "ace", tmp_path / "l.json")
    assert [e.status for e in ace.entries] == ["unchanged", "accepted"]
    assert isinstance(ace.entries[1].details, AceDetails) and ace.entries[1].details.operations == ["ADD x"]
    assert ace.entries[1].origin.sample == "p:2:2"


def test_an_unreadable_lineage_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"lineage.json: not a lineage this clue can read"):
        lineage_of({"what": 1}, "clue", tmp_path / "lineage.json")


def test_write_atomic_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "log.json"
    write_atomic(target, "first")
    write_atomic(target, "second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert [p.name for p in target.parent.iterdir()] == ["log.json"]
    assert oct(target.stat().st_mode & 0o777) in ("0o644", "0o664", "0o666", "0o600", "0o640")


def test_the_typed_lineage_is_read_back_as_written_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    written = Lineage(method="gepa", seed_hash="a", best_hash="b", entries=[
        LineageEntry(id="b", hash="b", name="gepa-b", parents=["a"], status="accepted",
                     scores={"validation": StageScore(accuracy=0.5, n=4)}, details=GepaDetails(minibatch_after=2.0))])
    raw = json.loads(written.model_dump_json())
    assert raw["format"] == "clue-lineage" and raw["version"] == 1
    assert lineage_of(raw, "ignored", tmp_path / "lineage.json") == written
    with pytest.raises(BadInputError, match=r"lineage.json: lineage version 2; this clue reads version 1"):
        lineage_of({**raw, "version": 2}, "gepa", tmp_path / "lineage.json")
