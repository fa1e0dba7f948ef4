"""Which llama.cpp CPU build is the fastest safe one here. Standard library only: the Makefile runs it
with the system Python before any venv exists.

    python3 src/clue/llm/cpu_features.py            # prints the CMake flags for llama-cpp-python

A feature is used only when /proc/cpuinfo lists it (the kernel drops flags whose register state it does
not enable) AND a child process executes one of its instructions without dying: some VMs report
features they do not let a guest use. AMX is never used, whatever the CPU says: a VM that reports AMX
without enabling it kills llama.cpp's process on its first tile instruction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# x86-64-v3 (AVX2, FMA, F16C, BMI2): any x86-64 server or desktop CPU of the last decade.
BASE_FLAGS = ("-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON",
              "-DGGML_BMI2=ON")

_RETURN = bytes.fromhex("c5f877c3")  # vzeroupper; ret
# One instruction of each feature, machine code checked with GNU as.
PROBES: dict[str, bytes] = {
    "avx2": bytes.fromhex("c5fdefc0c4e27db8c0"),  # vpxor ymm0,ymm0,ymm0; vfmadd231ps ymm0,ymm0,ymm0
    "avx_vnni": bytes.fromhex("c4e27d50c0"),  # {vex} vpdpbusd ymm0,ymm0,ymm0
    "avx512f": bytes.fromhex("62f17d48efc0"),  # vpxord zmm0,zmm0,zmm0
    "avx512_vnni": bytes.fromhex("62f27d4850c0"),  # vpdpbusd zmm0,zmm0,zmm0
    "avx512vbmi": bytes.fromhex("62f27d488dc0"),  # vpermb zmm0,zmm0,zmm0
    "avx512_bf16": bytes.fromhex("62f27e4852c0"),  # vdpbf16ps zmm0,zmm0,zmm0
}
# llama.cpp's GGML_AVX512 compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
AVX512_BASE = ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
AVX512_EXTRAS = {"avx512_vnni": "-DGGML_AVX512_VNNI=ON", "avx512vbmi": "-DGGML_AVX512_VBMI=ON",
                 "avx512_bf16": "-DGGML_AVX512_BF16=ON"}

_RUN_PROBE = """
import ctypes, mmap, sys
code = bytes.fromhex(sys.argv[1])
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
ctypes.CFUNCTYPE(None)(address)()
"""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def runs(code: bytes) -> bool:
    """True when a child process executes `code` (a function body) and exits normally."""
    try:
        child = subprocess.run([sys.executable, "-c", _RUN_PROBE, (code + _RETURN).hex()],
                               capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return child.returncode == 0


def usable(feature: str, flags: set[str]) -> bool:
    return feature in flags and (feature not in PROBES or runs(PROBES[feature]))


def cmake_flags(flags: set[str] | None = None) -> list[str]:
    """Flags for the fastest build this CPU runs safely; the x86-64-v3 base when unsure. Never AMX."""
    flags = cpu_flags() if flags is None else flags
    chosen = list(BASE_FLAGS)
    if not all(feature in flags for feature in ("avx2", "fma", "f16c", "bmi2")) or not usable("avx2", flags):
        return chosen  # not even x86-64-v3 here: the portable base is still what we build
    if all(feature in flags for feature in AVX512_BASE) and usable("avx512f", flags):
        chosen.append("-DGGML_AVX512=ON")
        chosen += [flag for feature, flag in AVX512_EXTRAS.items() if usable(feature, flags)]
    elif usable("avx_vnni", flags):
        chosen.append("-DGGML_AVX_VNNI=ON")
    return chosen


if __name__ == "__main__":
    print(" ".join(cmake_flags()))
