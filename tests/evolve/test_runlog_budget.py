"""`clue evolve`'s run log and budgets: calls and tokens bound every method, a resume under another model or
decoding is refused in one line, and usage is counted once across a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clue.bench.run.record import RoundProgress, read_runlog
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.errors import BadInputError
from clue.evolve.budget import Budget
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import EvolutionJob, run_evolution
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

from .conftest import ROLE_ENV, World, fake_info, fake_tasks, make_pairs

SMALL = EvolveSettings(rounds=3, batch=6, candidates=3, top=2, resample=2)


def llm(**env: str) -> tuple[LLM, ScriptedBackend]:
    backend = ScriptedBackend(World())
    return LLM(load_settings(env={**ROLE_ENV, **env}), backend=backend, cache=None), backend


async def evolve(run_dir: Path, model: LLM, budget: Budget, method: str = "clue", *, resume: bool = False):  # type: ignore[no-untyped-def]
    job = EvolutionJob(method, load_prompt("simple"), make_pairs(30), make_pairs(4, start=100), SMALL, budget,
                       run_dir, resume=resume, description={"datasets": ["toyalpha", "toybeta"], "split": "train"})
    return await run_evolution(job, model, runner=Runner(model, tasks=fake_tasks, info=fake_info))


@pytest.mark.parametrize("method", ["clue", "memevolve", "gepa", "ace"])
async def test_a_call_budget_bounds_every_method(tmp_path: Path, method: str) -> None:
    model, _ = llm()
    outcome = await evolve(tmp_path, model, Budget(max_calls=40), method)
    assert "budget" in outcome.optimization.stopped_by, outcome.optimization.stopped_by
    spent = outcome.budget["calls_spent"]
    assert spent is not None
    # Work stops before a unit the calls left may not pay for (the largest unit so far), or, with no unit
    # finished yet, at the first check past the cap: one evaluation batch or optimizer step, not a whole run.
    stopped = outcome.optimization.stopped_by
    assert spent >= 40 or (stopped.startswith("budget: call budget:") and "may need" in stopped), stopped
    assert spent <= 40 + 2 * SMALL.batch * 2 + 10
    log = read_runlog(tmp_path)
    assert log.spec.method == method and log.spec.settings["budget"]["max_calls"] == 40
    assert log.status == "finished"


@pytest.mark.parametrize("method", ["clue", "memevolve", "gepa", "ace"])
async def test_a_token_budget_works_for_every_method(tmp_path: Path, method: str) -> None:
    model, _ = llm()
    outcome = await evolve(tmp_path, model, Budget(max_tokens=400), method)
    assert "budget" in outcome.optimization.stopped_by
    assert outcome.budget["tokens_spent"] is not None and outcome.budget["tokens_spent"] >= 400


async def test_evolve_writes_a_run_log_and_refuses_a_resume_under_other_decoding(tmp_path: Path) -> None:
    model, backend = llm()
    await evolve(tmp_path, model, Budget(max_rollouts=30))
    log = read_runlog(tmp_path)
    assert log.spec.command == "evolve" and log.spec.roles["extractor"].model == "ext"
    assert log.spec.datasets == ["toyalpha", "toybeta"] and log.spec.prompt_hash == load_prompt("simple").hash
    usage = json.loads(json.dumps(log.usage))
    assert usage["extractor"]["calls"] == sum(1 for c in backend.calls if c.model == "ext")

    changed, _ = llm(CLUE_SOLVER_TEMPERATURE="0.2")
    with pytest.raises(BadInputError, match=r"different solver\.temperature \(0\.7 there, 0\.2 now\)"):
        await evolve(tmp_path, changed, Budget(max_rollouts=30), resume=True)
    other_model, _ = llm(CLUE_EXTRACTOR_MODEL="bigger")
    with pytest.raises(BadInputError, match=r"different extractor\.model \('ext' there, 'bigger' now\)"):
        await evolve(tmp_path, other_model, Budget(max_rollouts=30), resume=True)

    same, again = llm()
    await evolve(tmp_path, same, Budget(max_rollouts=60), resume=True)
    resumed = read_runlog(tmp_path)
    assert resumed.started == log.started and resumed.status == "finished"
    assert resumed.usage["extractor"]["calls"] == usage["extractor"]["calls"] + sum(
        1 for c in again.calls if c.model == "ext"), "usage counts the calls of both processes once"


def test_optimizers_record_their_progress_through_the_recorder(tmp_path: Path) -> None:
    from clue.bench.run.record import RunSpec
    from clue.bench.run.recorder import RunRecorder

    spec = RunSpec(clue_version="x", command="evolve", roles={}, method="clue")
    point = RoundProgress(round=1, rollouts_spent=36, tokens_spent=900, best_hash="abc", best_name="r1-c2")
    with RunRecorder.open(tmp_path, spec, roles=(), resume=False) as recorder:
        recorder.record_progress(point)
        recorder.record_progress(point.model_copy(update={"tokens_spent": 950}))
        assert read_runlog(tmp_path).status == "running"
        recorder.finish()
    log = read_runlog(tmp_path)
    assert log.status == "finished" and log.evolution is not None and log.evolution.method == "clue"
    assert [(p.round, p.tokens_spent) for p in log.evolution.progress] == [(1, 950)]
