"""Prefill and decode speed of an embedded model on this machine, idle and beside two busy processes.

    .venv/bin/python perf/local_model_speed.py [--model qwen2.5-coder-1.5b] [--prompt-tokens 512]

Prefill evaluates a prompt of exactly --prompt-tokens tokens in one go; decode then generates
--decode-tokens tokens greedily, one eval per token (EOS is not honoured, so the count is exact).
Then the same again while two competing busy processes run (started here, each stopped by this
script and, at the latest, by its own --busy-seconds deadline). The chat call goes through
`LocalBackend` with the same thread count, as clue itself would. The last line is
`contention_ratio: X idle_prefill_tps: Y`, X = prefill speed under contention / idle prefill speed.
The OpenMP wait policy is clue's (a short spin, GOMP_SPINCOUNT=10000, unless OMP_WAIT_POLICY or
GOMP_SPINCOUNT is set); `--omp libgomp` leaves both unset, as llama-cpp-python alone would, and
`--omp passive` sleeps at every barrier. Decode steps use the cores other processes leave free, as clue
does (`cpu_share`), unless --fixed-threads. The load average is printed because "idle" means only this
script's own work on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

# llama_cpp is imported inside functions, after this module: it sets the OpenMP wait policy first.
from clue.llm.backends.cpu_share import ThreadGovernor, govern_decode_threads
from clue.llm.backends.llama_runtime import OPENMP_WAIT_VARIABLES, available_cpus
from clue.llm.backends.local import DEFAULT_N_BATCH, LocalBackend
from clue.llm.types import Decoding
from clue.llm.weights import DEFAULT_LOCAL_MODEL, MODELS, ensure_model

if TYPE_CHECKING:
    from llama_cpp import Llama

FILLER = (
    "def merge_intervals(intervals):\n"
    "    # Sort by start, then sweep and merge every interval that overlaps the last one kept.\n"
    "    intervals.sort(key=lambda pair: pair[0])\n"
    "    merged = []\n"
    "    for start, end in intervals:\n"
    "        if merged and start <= merged[-1][1]:\n"
    "            merged[-1][1] = max(merged[-1][1], end)\n"
    "        else:\n"
    "            merged.append([start, end])\n"
    "    return merged\n"
    "The user then asked how the function behaves on empty input, on touching intervals such as\n"
    "[1, 2] and [2, 3], and whether sorting in place is acceptable for their data pipeline.\n"
)


def prompt_tokens(llm: Llama, count: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < count:
        tokens += llm.tokenize(FILLER.encode(), add_bos=False)
    return tokens[:count]


def greedy_next_token(llm: Llama) -> int:
    import llama_cpp

    # Read the last logits from llama.cpp: Llama.scores is only filled with logits_all=True.
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


@dataclass
class Phase:
    tokens: int
    wall_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.tokens / self.wall_s


def timed(tokens: int, work: Callable[[], None]) -> Phase:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Phase(tokens, time.perf_counter() - wall, time.process_time() - cpu)


def measure_raw(llm: Llama, n_prompt: int, n_decode: int) -> tuple[Phase, Phase]:
    """(prefill, decode) for one fresh prompt."""
    tokens = prompt_tokens(llm, n_prompt)
    llm.reset()  # type: ignore[no-untyped-call]
    prefill = timed(n_prompt, lambda: llm.eval(tokens))

    def decode_greedily() -> None:
        for _ in range(n_decode):
            llm.eval([greedy_next_token(llm)])

    return prefill, timed(n_decode, decode_greedily)


BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def median(phases: list[Phase]) -> Phase:
    return sorted(phases, key=lambda phase: phase.rate)[len(phases) // 2]


def report(name: str, phases: list[Phase], threads: int) -> str:
    middle = median(phases)
    # Below 100% the threads did not get their cores: other processes shared the machine.
    busy = 100 * middle.cpu_s / (middle.wall_s * threads)
    return (f"{name:8} {middle.rate:7.1f} tok/s  ({middle.tokens} tokens, median of {len(phases)}; "
            f"threads got {busy:.0f}% of their cores)")


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def measure(llm: Llama, args: argparse.Namespace) -> tuple[list[Phase], list[Phase]]:
    prefill, decode = [], []
    for _ in range(args.repeats):
        prefill_phase, decode_phase = measure_raw(llm, args.prompt_tokens, args.decode_tokens)
        prefill.append(prefill_phase)
        decode.append(decode_phase)
    return prefill, decode


def under_contention(llm: Llama, args: argparse.Namespace) -> tuple[list[Phase], list[Phase]]:
    """The same measurement beside `--busy` CPU-bound processes, always stopped before returning."""
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY, str(args.busy_seconds)]) for _ in range(args.busy)]
    try:
        time.sleep(0.5)  # let them get scheduled
        return measure(llm, args)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


async def measure_chat(model: str, n_ctx: int, threads: int, n_prompt: int, fair_threads: bool) -> str:
    backend = LocalBackend(n_ctx=n_ctx, n_threads=threads, fair_decode_threads=fair_threads)
    try:
        repeats = max(1, n_prompt // 110)
        messages = [{"role": "user", "content": FILLER * repeats + "\nSummarise the discussion in one line."}]
        completion = await backend.complete(model, messages,  # type: ignore[arg-type]
                                            Decoding(temperature=0.0, max_tokens=64, seed=0))
    finally:
        await backend.aclose()
    return (f"chat via LocalBackend: {completion.prompt_tokens} prompt + {completion.completion_tokens} "
            f"completion tokens in {completion.latency_s:.2f}s (finish: {completion.finish_reason})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL, choices=sorted(MODELS))
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=available_cpus())
    parser.add_argument("--flash-attn", action="store_true")
    parser.add_argument("--n-batch", type=int, default=DEFAULT_N_BATCH,
                        help=f"tokens per prompt-evaluation batch (clue's default {DEFAULT_N_BATCH}; llama.cpp's 512)")
    parser.add_argument("--no-chat", action="store_true", help="skip the end-to-end chat call")
    parser.add_argument("--busy", type=int, default=2, help="competing busy processes (default 2)")
    parser.add_argument("--busy-seconds", type=float, default=300.0,
                        help="each busy process stops by itself after this long at the latest")
    parser.add_argument("--omp", choices=("clue", "libgomp", "passive"), default="clue",
                        help="clue's OpenMP wait policy, libgomp's default (nothing set), or PASSIVE")
    parser.add_argument("--fixed-threads", action="store_true",
                        help="decode with every thread whatever else runs, as llama-cpp-python does")
    args = parser.parse_args()
    if args.omp != "clue":  # llama_cpp is not loaded yet, so this still counts
        for variable in OPENMP_WAIT_VARIABLES:
            os.environ.pop(variable, None)
        if args.omp == "passive":
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

    from llama_cpp import Llama

    spec = MODELS[args.model]
    started = time.perf_counter()
    path = ensure_model(args.model)
    ready_s = time.perf_counter() - started
    started = time.perf_counter()
    llm = Llama(model_path=str(path), n_ctx=spec.context_size, n_threads=args.threads,
                n_threads_batch=args.threads, n_batch=args.n_batch, flash_attn=args.flash_attn, verbose=False)
    load_s = time.perf_counter() - started
    if not args.fixed_threads:
        govern_decode_threads(llm, ThreadGovernor(args.threads))
    print(f"{args.model} ({spec.description}), {args.threads} threads"
          f"{' (fixed)' if args.fixed_threads else ' (decode: free cores)'}, n_ctx {spec.context_size}, "
          f"n_batch {args.n_batch}, flash_attn={args.flash_attn}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}: "
          f"model ready in {ready_s:.2f}s, loaded in {load_s:.2f}s")

    print(f"idle ({load_average()}):")
    prefill, decode = measure(llm, args)
    print(report("prefill:", prefill, args.threads))
    print(report("decode:", decode, args.threads))
    print(f"with {args.busy} competing busy processes ({load_average()}):")
    busy_prefill, busy_decode = under_contention(llm, args)
    print(report("prefill:", busy_prefill, args.threads))
    print(report("decode:", busy_decode, args.threads))
    llm.close()
    if not args.no_chat:
        print(asyncio.run(measure_chat(args.model, spec.context_size, args.threads, args.prompt_tokens,
                                       not args.fixed_threads)))
    idle_prefill = median(prefill).rate
    print(f"decode_contention_ratio: {median(busy_decode).rate / median(decode).rate:.3f}")
    print(f"contention_ratio: {median(busy_prefill).rate / idle_prefill:.3f} idle_prefill_tps: {idle_prefill:.1f}")


if __name__ == "__main__":
    main()
