"""Kill -9 a real run mid-way, resume it, and check no rollout is redone or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clue.bench.evaluation import EvalPlan, run_plan
from clue.bench.loader import default_data_root, load_pairs
from clue.bench.rollouts import RolloutStore
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

N_PAIRS = 40

CHILD = """
import asyncio, sys
from pathlib import Path
from clue.bench.evaluation import EvalPlan, run_plan
from clue.bench.loader import default_data_root, load_pairs
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

pairs = load_pairs(default_data_root(), "GameOf24", "all", limit=%(n)d, warn=lambda m: None)
llm = LLM(load_settings(env={}), backend=ScriptedBackend(lambda c: "1. memo\\n<answer>(4+4)*3</answer>",
          latency_s=0.05), cache=None)
plan = EvalPlan(load_prompt("simple"), pairs, {"GameOf24": 1}, {"datasets": ["GameOf24"], "split": "all"})
asyncio.run(run_plan(llm, plan, Path(sys.argv[1])))
"""


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


async def test_kill_then_resume_redoes_nothing_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", CHILD % {"n": N_PAIRS}, str(out)])
    deadline = time.monotonic() + 60
    while len(_lines(out / "rollouts.jsonl")) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = _lines(out / "rollouts.jsonl")
    assert 8 <= len(before) < N_PAIRS, "the child must die mid-run for this test to mean anything"

    # A kill can tear the last line; the store must drop it rather than choke or glue records together.
    with (out / "rollouts.jsonl").open("a") as handle:
        handle.write('{"rollout_id": "torn')
    done_ids = {json.loads(line)["rollout_id"] for line in before}

    solved: list[str] = []

    def responder(call: ScriptedCall) -> str:
        if call.messages[0]["content"].startswith("You are a careful assistant"):
            solved.append(call.messages[-1]["content"])
        return "1. memo\n<answer>(4+4)*3</answer>"

    pairs = load_pairs(default_data_root(), "GameOf24", "all", limit=N_PAIRS, warn=lambda m: None)
    llm = LLM(load_settings(env={}), backend=ScriptedBackend(responder), cache=None)
    plan = EvalPlan(load_prompt("simple"), pairs, {"GameOf24": 1}, {"datasets": ["GameOf24"], "split": "all"})
    results = await run_plan(llm, plan, out, resume=True)

    after = _lines(out / "rollouts.jsonl")
    ids = [json.loads(line)["rollout_id"] for line in after]
    assert len(ids) == len(set(ids)) == N_PAIRS
    assert after[: len(before)] == before, "finished rollouts must be kept as they were"
    assert len(solved) == N_PAIRS - len(done_ids), "only unfinished rollouts may be solved again"
    assert results.datasets[0].n_pairs == N_PAIRS
    assert len(RolloutStore(out / "rollouts.jsonl").rollouts) == N_PAIRS
