"""How llama.cpp's OpenMP wait policy trades idle speed against speed beside busy processes.

    .venv/bin/python perf/omp_wait_policy.py [--model qwen2.5-coder-1.5b] [--variants libgomp,passive,clue]

libgomp reads its wait policy once, when llama.cpp loads, so each variant runs `local_model_speed.py`
in a fresh process (idle, then beside --busy busy processes that script starts and stops) and this prints
one table row per variant: idle prefill and decode, the same under contention, and the two ratios.
Variants: `clue` (clue's defaults: a 10k spin, decode on the cores others leave free), `libgomp`
(nothing set, every thread always: llama-cpp-python alone), `passive`, `spinN` / `spinNk`
(GOMP_SPINCOUNT=N), `threads1` (one thread throughout); all but `clue` decode with fixed threads.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from clue.llm.backends.llama_runtime import OPENMP_WAIT_VARIABLES
from clue.llm.weights import DEFAULT_LOCAL_MODEL, MODELS

SPEED = Path(__file__).with_name("local_model_speed.py")
RATE = re.compile(r"^(prefill|decode):\s+([\d.]+) tok/s", re.MULTILINE)


def variant_command(variant: str) -> tuple[list[str], dict[str, str]]:
    """Extra arguments and environment for one variant."""
    env = {key: value for key, value in os.environ.items() if key not in OPENMP_WAIT_VARIABLES}
    if variant == "clue":
        return [], env
    if variant in ("libgomp", "passive"):
        return ["--omp", variant, "--fixed-threads"], env
    if variant == "threads1":
        return ["--threads", "1"], env
    spin = re.fullmatch(r"spin(\d+)(k?)", variant)
    if spin:
        count = int(spin.group(1)) * (1000 if spin.group(2) else 1)
        return ["--fixed-threads"], {**env, "GOMP_SPINCOUNT": str(count)}
    raise SystemExit(f"unknown variant {variant!r}: use clue, libgomp, passive, threads1 or spinN[k]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL, choices=sorted(MODELS))
    parser.add_argument("--variants", default="libgomp,passive,clue")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="competing busy processes (default 2)")
    args = parser.parse_args()
    print(f"{args.model}: {args.prompt_tokens}-token prefill, {args.decode_tokens} decoded tokens, "
          f"median of {args.repeats}; tok/s idle | beside {args.busy} busy processes")
    print(f"{'variant':10} {'prefill':>8} {'decode':>8} | {'prefill':>8} {'decode':>8} | "
          f"{'ratio p':>7} {'ratio d':>7}  load")
    for variant in args.variants.split(","):
        extra, env = variant_command(variant)
        command = [sys.executable, str(SPEED), "--model", args.model, "--no-chat",
                   "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
                   "--repeats", str(args.repeats), "--busy", str(args.busy), *extra]
        load = os.getloadavg()[0]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        rates = [float(rate) for _, rate in RATE.findall(done.stdout)]
        if done.returncode != 0 or len(rates) != 4:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{variant:10} failed: {last}")
            continue
        idle_p, idle_d, busy_p, busy_d = rates
        print(f"{variant:10} {idle_p:8.1f} {idle_d:8.1f} | {busy_p:8.1f} {busy_d:8.1f} | "
              f"{busy_p / idle_p:7.3f} {busy_d / idle_d:7.3f}  {load:.2f}", flush=True)


if __name__ == "__main__":
    main()
