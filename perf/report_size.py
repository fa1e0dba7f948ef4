"""How big is the report of a 10,000-rollout run, and how fast does a browser open it?

Writes a synthetic eval run (2,000 pairs x 5 repeats over 8 datasets; every rollout has an extractor call with
a ~6,000-character source, a solver call and a score), renders `clue report` of it, and opens the file in
headless Chromium (Debian's `chromium`). The page stamps `data-load-ms` (performance.now() when its script
has built the transcript list) on <html>; `--dump-dom` prints it.

    python perf/report_size.py [--rollouts 10000] [--keep DIR]

Prints: rollouts, raw transcript characters, report bytes, write seconds, browser load ms, chromium wall s.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from clue.bench.run.events import LLMCallEvent, ScoreEvent
from clue.bench.run.record import RoleSpec, RunLog, RunSpec, SamplesRef, now, write_runlog
from clue.bench.run.results import aggregate
from clue.bench.run.rollouts import Rollout, RolloutStore, rollout_id
from clue.memory.prompts import load_prompt
from clue.report.html import write_report

DATASETS = [("membench-high", "personalization", False), ("PrefEval", "personalization", False),
            ("LongMemEval", "personalization", False), ("GameOf24", "problem-solving", False),
            ("AIME", "problem-solving", False), ("GPQA", "problem-solving", True),
            ("alfworld", "agentic", False), ("scienceworld", "agentic", True)]
VOCABULARY = ("the user said they prefer tea over coffee and the meeting moved to friday at noon we tried "
              "solving the equation by isolating x then checked the answer against twenty four the agent opened "
              "the drawer took the key walked north and unlocked the door before the timer ran out")
WORDS = VOCABULARY.split()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def text(rng: random.Random, chars: int) -> str:
    words = rng.choices(WORDS, k=chars // 5)
    return " ".join(words)[:chars]


def synthetic_run(run_dir: Path, rollouts: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    prompt = load_prompt("simple")
    repeats = 5
    pairs = rollouts // repeats
    store = RolloutStore(run_dir / "rollouts.jsonl")
    written: list[Rollout] = []
    for p in range(pairs):
        dataset, category, ood = DATASETS[p % len(DATASETS)]
        source = "<conversation>\n" + "\n".join(f"[{'user' if t % 2 == 0 else 'assistant'}] {text(rng, 600)}"
                                                for t in range(10)) + "\n</conversation>"
        query = text(rng, 400)
        for r in range(repeats):
            memory = text(rng, 600)
            reply = text(rng, 300) + " <answer>A</answer>"
            reward = float(rng.random() < 0.55)
            events = [LLMCallEvent(role="extractor", messages=[{"role": "system", "content": prompt.text},
                                                               {"role": "user", "content": source}],
                                   reply=memory, prompt_tokens=1600, completion_tokens=150, latency_s=2.0),
                      LLMCallEvent(role="solver", messages=[{"role": "system", "content": f"Memory:\n{memory}"},
                                                            {"role": "user", "content": query}],
                                   reply=reply, prompt_tokens=300, completion_tokens=80, latency_s=1.0),
                      ScoreEvent(reward=reward, success=reward > 0, detail="expected A")]
            rollout = Rollout(rollout_id=rollout_id(prompt.hash, f"{dataset}:{p}:{p}", r), prompt_name=prompt.name,
                              prompt_hash=prompt.hash, dataset=dataset, subset=dataset, category=category, ood=ood,
                              source_id=p, target_id=p, repeat=r, memory=memory, solver_output=reply, reward=reward,
                              score_detail="expected A", extract_prompt_tokens=1600, extract_completion_tokens=150,
                              solve_prompt_tokens=300, solve_completion_tokens=80, latency_s=3.0, events=events)
            store.append(rollout)
            written.append(rollout)
    store.close()
    role = RoleSpec(backend="openai", model="Qwen/Qwen3-32B", temperature=0.6, top_p=0.95, max_tokens=2048)
    usage = {"extractor": {"calls": len(written), "cached_calls": 0, "failed_calls": 0,
                           "prompt_tokens": 1600 * len(written), "completion_tokens": 150 * len(written),
                           "latency_s": 2.0 * len(written), "total_tokens": 1750 * len(written)},
             "solver": {"calls": len(written), "cached_calls": 0, "failed_calls": 0,
                        "prompt_tokens": 300 * len(written), "completion_tokens": 80 * len(written),
                        "latency_s": 1.0 * len(written), "total_tokens": 380 * len(written)}}
    write_runlog(run_dir, RunLog(
        status="finished", started=now(), finished=now(),
        spec=RunSpec(clue_version="bench", command="eval", roles={"extractor": role, "solver": role},
                     datasets=[d for d, _, _ in DATASETS], split="test", prompt_name=prompt.name,
                     prompt_hash=prompt.hash, repeats={d: repeats for d, _, _ in DATASETS}),
        results=aggregate(written, usage=usage), usage=usage, samples=SamplesRef(count=len(written))))


def browser_load(report: Path) -> tuple[float | None, float]:
    """(the page's own load ms, chromium's wall seconds) for headless Chromium opening `report`."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        started = time.perf_counter()
        dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                              report.resolve().as_uri()], capture_output=True, text=True, timeout=300).stdout
        wall = time.perf_counter() - started
    found = re.search(r'data-load-ms="(\d+)"', dom)
    ready = 'data-ready="1"' in dom
    return (float(found.group(1)) if found and ready else None), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="Write the run and report here and keep them.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        run_dir = root / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        synthetic_run(run_dir, args.rollouts)
        started = time.perf_counter()
        written = write_report([run_dir], root / "report.html")
        write_s = time.perf_counter() - started
        samples_bytes = (run_dir / "rollouts.jsonl").stat().st_size
        load_ms, wall_s = browser_load(written.path)
        print(f"rollouts: {written.rollouts}")
        print(f"rollouts_jsonl_mb: {samples_bytes / 1e6:.1f}")
        print(f"report_mb: {written.path.stat().st_size / 1e6:.1f}")
        print(f"report_write_s: {write_s:.1f}")
        print(f"browser_load_ms: {load_ms if load_ms is not None else 'page did not finish loading'}")
        print(f"chromium_wall_s: {wall_s:.1f}")


if __name__ == "__main__":
    main()
