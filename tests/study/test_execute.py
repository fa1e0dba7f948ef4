"""Study directory checks and what every cell's `clue` process is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.commands import study_cmd
from clue.commands.common import GlobalOptions
from clue.study.execute import StudyDirError, first_change, prepare_study_dir
from clue.study.spec import StudyFile


def test_first_change_names_the_key() -> None:
    before = {"study": {"prompts": ["simple", "survey"], "limit": 2}, "options": ["--model", "a"]}
    assert first_change(before, before) is None
    assert first_change(before, {**before, "study": {"prompts": ["simple", "mem0-style"], "limit": 2}}) == \
        "study.prompts[1]"
    assert first_change(before, {**before, "study": {"prompts": ["simple"], "limit": 2}}) == "study.prompts"


def test_study_dir_refusals_change_nothing(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(StudyDirError, match="not empty and not a study directory"):
        prepare_study_dir(other, StudyFile(), [], resume=False)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    out = tmp_path / "out"
    prepare_study_dir(out, StudyFile(), ["--model", "a"], resume=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(StudyDirError, match="already holds a study"):
        prepare_study_dir(out, StudyFile(), ["--model", "a"], resume=False)
    with pytest.raises(StudyDirError, match=r"other global options \(--model a there; --model b now\)"):
        prepare_study_dir(out, StudyFile(), ["--model", "b"], resume=True)
    with pytest.raises(StudyDirError, match=r"study\.limit differs"):
        prepare_study_dir(out, StudyFile(limit=3), ["--model", "a"], resume=True)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_endpoints_pass_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(study_cmd, "warn", said.append)
    opts = GlobalOptions(env_root=tmp_path, roles=["solver.max_tokens=9"])  # the default data root
    urls = ["http://a/v1", "http://b/v1"]
    monkeypatch.setattr(study_cmd, "_several_base_urls", lambda: False)
    args = study_cmd.global_args(opts, tmp_path / "clue.toml", urls)
    assert args[args.index("--base-url") + 1] == "http://a/v1" and args.count("--base-url") == 1
    assert said and "uses the first (http://a/v1)" in said[0]
    assert args[-2:] == ["--role", "solver.max_tokens=9"]
    monkeypatch.setattr(study_cmd, "_several_base_urls", lambda: True)
    args = study_cmd.global_args(opts, tmp_path / "clue.toml", urls)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--base-url"] == urls
    opts.base_url = "http://flag/v1"  # the command line replaces the study's endpoints
    args = study_cmd.global_args(opts, tmp_path / "clue.toml", urls)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--base-url"] == ["http://flag/v1"]
