"""Kill -9 a real run mid-way, resume it, and check no rollout is redone or lost, and usage counts each call
once across both processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.run.evaluation import EvalPlan, run_plan
from clue.bench.run.record import read_runlog
from clue.bench.run.rollouts import RolloutStore
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

N_PAIRS = 40
DATASET = "membench-high"  # single-turn, memory in the user turn
KILL_AT_CALL = 50

# The child answers every call, writing one line per reply it returns, and kills itself (SIGKILL) while its
# KILL_AT_CALL-th call is in flight: that call never returns, so it must not be counted.
CHILD = """
import asyncio, os, signal, sys
from pathlib import Path
from clue.bench.run.evaluation import EvalPlan, run_plan
from clue.bench.data.loader import default_data_root, load_pairs
from clue.config import load_settings
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

replies = open(sys.argv[2], "a")
count = 0
def responder(call):
    global count
    count += 1
    if count == %(kill)d:
        os.kill(os.getpid(), signal.SIGKILL)
    replies.write("x\\n"); replies.flush()
    return "1. memo\\n<answer>B</answer>"

pairs = load_pairs(default_data_root(), %(dataset)r, "all", limit=%(n)d, warn=lambda m: None)
llm = LLM(load_settings(env={}), backend=ScriptedBackend(responder, latency_s=0.01), cache=None)
plan = EvalPlan(load_prompt("simple"), pairs, {%(dataset)r: 1}, {"datasets": [%(dataset)r], "split": "all"})
asyncio.run(run_plan(llm, plan, Path(sys.argv[1])))
"""


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


async def test_kill_then_resume_redoes_nothing_loses_nothing_and_counts_each_call_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    replies = tmp_path / "child_replies.txt"
    child = subprocess.run([sys.executable, "-c", CHILD % {"n": N_PAIRS, "kill": KILL_AT_CALL, "dataset": DATASET},
                            str(out), str(replies)], timeout=120)
    assert child.returncode == -9, "the child must die mid-run for this test to mean anything"
    before = _lines(out / "rollouts.jsonl")
    assert 4 <= len(before) < N_PAIRS
    assert read_runlog(out).status == "running", "a killed run's log says it never finished"

    # A kill can tear the last line; the store must drop it rather than choke or glue records together.
    with (out / "rollouts.jsonl").open("a") as handle:
        handle.write('{"rollout_id": "torn')
    done_ids = {json.loads(line)["rollout_id"] for line in before}

    solved: list[str] = []

    def responder(call: ScriptedCall) -> str:
        if call.messages[0]["content"] == "":  # the solver: empty system prompt, memory in the user turn
            solved.append(call.messages[-1]["content"])
        return "1. memo\n<answer>B</answer>"

    pairs = load_pairs(default_data_root(), DATASET, "all", limit=N_PAIRS, warn=lambda m: None)
    backend = ScriptedBackend(responder)
    llm = LLM(load_settings(env={}), backend=backend, cache=None)
    plan = EvalPlan(load_prompt("simple"), pairs, {DATASET: 1}, {"datasets": [DATASET], "split": "all"})
    warnings: list[str] = []
    results = await run_plan(llm, plan, out, resume=True, warn=warnings.append)

    after = _lines(out / "rollouts.jsonl")
    ids = [json.loads(line)["rollout_id"] for line in after]
    assert len(ids) == len(set(ids)) == N_PAIRS
    assert after[: len(before)] == before, "finished rollouts must be kept as they were"
    assert len(solved) == N_PAIRS - len(done_ids), "only unfinished rollouts may be solved again"
    assert results.datasets[0].n_pairs == N_PAIRS
    assert len(RolloutStore(out / "rollouts.jsonl").rollouts) == N_PAIRS
    assert any("unreadable rollout line" in w for w in warnings), "the torn line must be reported"

    log = read_runlog(out)
    usage = log.usage
    counted = usage["extractor"]["calls"] + usage["solver"]["calls"]
    assert counted == len(_lines(replies)) + len(backend.calls)
    assert log.status == "finished" and log.samples.count == N_PAIRS
    assert sorted(p.name for p in out.iterdir()) == [".lock", "log.json", "prompt.txt", "rollouts.jsonl",
                                                     "usage.jsonl"], "nothing but the run record's files"
    assert log.spec.roles["solver"].temperature == 0.7 and log.spec.prompt_hash == load_prompt("simple").hash
