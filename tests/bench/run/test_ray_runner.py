"""`--executor ray`: rollouts as Ray tasks on a local Ray instance give the same results as in-process, and
the run directory is written by the driver alone. Needs the `ray` extra (pip install 'clue[ray]')."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_openai import FakeOpenAI, chat_reply, make_llm

from clue.bench.data.loader import default_data_root, load_pairs
from clue.bench.ray_runner import RayRunner, connect
from clue.bench.run.evaluation import EvalPlan, run_plan
from clue.bench.run.runner import Runner
from clue.bench.solvers.registry import SolverOptions, SolverRegistry
from clue.memory.prompts import load_prompt

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")


def varied(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A reply that depends on the whole request and its seed, so any difference in what was sent shows."""
    digest = hashlib.sha256(json.dumps([body["messages"], body.get("seed")]).encode()).digest()
    # The fenced block is a usable new prompt for GEPA's reflection step.
    return 200, chat_reply(f"1. note {digest[0]}\n<answer>{'ABCD'[digest[1] % 4]}</answer>\n```\nList what the "
                           f"user prefers, at most {2 + digest[3] % 5} numbered items.\n```",
                           prompt_tokens=7 + digest[2], completion_tokens=5)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    connect(None)  # starts a local Ray instance
    yield
    ray.shutdown()


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=varied)
    yield server
    server.close()


async def _run(out: Path, runner_kind: str, base_url: str) -> list[dict[str, Any]]:
    root = default_data_root()
    pairs = [*load_pairs(root, "membench-high", "train", limit=2, warn=print),
             *load_pairs(root, "GameOf24", "train", limit=2, warn=print)]
    plan = EvalPlan(load_prompt("simple"), pairs, {"membench-high": 2, "GameOf24": 2},
                    {"datasets": ["membench-high", "GameOf24"], "split": "train", "limit": 2})
    llm = make_llm(base_url, retries=1)
    options = SolverOptions()
    runner = (RayRunner(llm, solver_options=options) if runner_kind == "ray"
              else Runner(llm, solvers=SolverRegistry(options)))
    try:
        await run_plan(llm, plan, out, runner=runner)
    finally:
        await runner.aclose()
        await llm.aclose()
    return [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]


def _comparable(rollout: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in rollout.items() if k not in ("latency_s", "events")}
    kept["events"] = [{k: v for k, v in e.items() if k != "latency_s"} for e in rollout["events"]]
    return kept


@pytest.mark.usefixtures("local_ray")
async def test_ray_rollouts_equal_in_process_ones(tmp_path: Path, fake: FakeOpenAI) -> None:
    local = await _run(tmp_path / "local", "local", fake.base_url)
    in_process_requests = len(fake.requests)
    remote = await _run(tmp_path / "ray", "ray", fake.base_url)
    assert len(fake.requests) == 2 * in_process_requests, "the Ray workers made the same calls, uncached"
    assert len(local) == len(remote) == 8
    by_id = {r["rollout_id"]: _comparable(r) for r in remote}
    assert {r["rollout_id"]: _comparable(r) for r in local} == by_id
    assert len({r["reward"] for r in local}) > 1 or len({r["memory"] for r in local}) > 1, "replies must vary"
    usage = [json.loads((tmp_path / name / "log.json").read_text())["usage"] for name in ("local", "ray")]
    for role in ("extractor", "solver"):
        for key in ("calls", "prompt_tokens", "completion_tokens"):
            assert usage[0][role][key] == usage[1][role][key], (role, key)
    log = json.loads((tmp_path / "ray" / "log.json").read_text())
    assert log["status"] == "finished" and log["samples"]["count"] == 8


async def _evolve(out: Path, runner_kind: str, base_url: str) -> tuple[str, list[dict[str, Any]]]:
    from clue.evolve.budget import Budget
    from clue.evolve.protocol import EvolveSettings
    from clue.evolve.run import EvolutionJob, run_evolution

    root = default_data_root()
    train = load_pairs(root, "membench-high", "train", limit=4, warn=print)
    test = load_pairs(root, "membench-high", "test", limit=2, warn=print)
    settings = EvolveSettings(gepa_minibatch=2)
    llm = make_llm(base_url, retries=1)
    runner = RayRunner(llm, solver_options=SolverOptions()) if runner_kind == "ray" else None
    try:
        job = EvolutionJob("gepa", load_prompt("simple"), train, test, settings, Budget(max_rollouts=8), out)
        outcome = await run_evolution(job, llm, runner=runner)
    finally:
        await llm.aclose()
    rollouts = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    return outcome.optimization.best.text, rollouts


@pytest.mark.usefixtures("local_ray")
async def test_ray_evolution_equals_in_process(tmp_path: Path, fake: FakeOpenAI) -> None:
    best_local, local = await _evolve(tmp_path / "local", "local", fake.base_url)
    best_ray, remote = await _evolve(tmp_path / "ray", "ray", fake.base_url)
    assert best_local == best_ray and local
    assert sorted(map(json.dumps, map(_comparable, local))) == sorted(map(json.dumps, map(_comparable, remote)))
    usage = [json.loads((tmp_path / name / "log.json").read_text())["usage"] for name in ("local", "ray")]
    assert usage[0]["extractor"]["calls"] == usage[1]["extractor"]["calls"] > 0
