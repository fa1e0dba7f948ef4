"""Choosing the llama.cpp CPU build: flags from /proc/cpuinfo, confirmed by running an instruction."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.llm import cpu_features
from clue.llm.cpu_features import BASE_FLAGS, PROBES, cmake_flags, cpu_flags, runs

ZEN4_LIKE = {"avx2", "fma", "f16c", "bmi2", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw",
             "avx512_vnni", "avx512vbmi", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"}


def test_the_probe_tells_a_runnable_instruction_from_an_illegal_one() -> None:
    assert runs(b"")  # just `ret`
    assert not runs(bytes.fromhex("0f0b"))  # ud2: the child dies of SIGILL


def test_flags_come_from_the_cpuinfo_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 fma\n\n")

    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_avx512_is_used_only_when_the_probe_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_features, "runs", lambda code: True)
    assert cmake_flags(ZEN4_LIKE) == [*BASE_FLAGS, "-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON",
                                      "-DGGML_AVX512_VBMI=ON", "-DGGML_AVX512_BF16=ON"]

    # A VM that lists AVX-512 but faults on it gets the x86-64-v3 build.
    monkeypatch.setattr(cpu_features, "runs", lambda code: code != PROBES["avx512f"])
    assert cmake_flags(ZEN4_LIKE) == list(BASE_FLAGS)


def test_amx_is_never_chosen_whatever_the_cpu_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_features, "runs", lambda code: True)
    assert not any("AMX" in flag for flag in cmake_flags(ZEN4_LIKE))
    assert all("NATIVE=OFF" in flag for flag in cmake_flags(ZEN4_LIKE) if "NATIVE" in flag)


def test_avx_vnni_without_avx512_and_the_portable_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_features, "runs", lambda code: True)
    assert cmake_flags({"avx2", "fma", "f16c", "bmi2", "avx_vnni"}) == [*BASE_FLAGS, "-DGGML_AVX_VNNI=ON"]
    assert cmake_flags({"sse2"}) == list(BASE_FLAGS)


def test_this_machine_gets_flags_its_cpu_lists() -> None:
    flags = cpu_flags()
    chosen = cmake_flags(flags)
    assert chosen[: len(BASE_FLAGS)] == list(BASE_FLAGS)
    if "-DGGML_AVX512=ON" in chosen:
        assert "avx512f" in flags
