"""A small study to report on, made by the real commands' code on the scripted backend.

- two `clue eval`-style runs (the real runner and run dir writer) of two prompts on the evolution tests'
  scripted world, where only a prompt saying KEEP-NUMBERS / KEEP-NAMES keeps the right facts;
- a real CluE evolution (two rounds) on the same world, its progress recorded per round as the run log has it;
- a run whose rollouts carry every event kind (code runs, an environment episode), built as objects;
- a GEPA run in the layout clue wrote before the typed lineage (a list of entries), which views still read.
Each run dir has its `log.json` (RunLog): the one the commands' code writes, or, where that code does not
write one yet, one made here with the same spec, status, results, usage and progress.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from evolve.conftest import World, fake_tasks, make_pairs, settings  # the evolution tests' scripted world

from clue.bench.run.evaluation import EvalPlan, run_plan
from clue.bench.run.events import (
    CodeRunEvent,
    EnvResetEvent,
    EnvStepEvent,
    LLMCallEvent,
    NoteEvent,
    ScoreEvent,
)
from clue.bench.run.files import LOG as RUNLOG
from clue.bench.run.record import (
    EvolutionRecord,
    RoleSpec,
    RoundProgress,
    RunLog,
    RunSpec,
    SamplesRef,
    now,
    read_runlog,
    write_runlog,
)
from clue.bench.run.results import aggregate
from clue.bench.run.rollouts import Rollout, RolloutStore, rollout_id
from clue.bench.run.runner import Runner
from clue.evolve.budget import Budget
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import EvolutionJob, run_evolution
from clue.evolve.watch import Reporter, RoundReport
from clue.llm.backends.scripted import ScriptedBackend
from clue.llm.client import LLM
from clue.llm.ledger import Ledger
from clue.memory.prompts import ExtractionPrompt, load_prompt, prompt_hash

ROLES = {role: RoleSpec(backend="scripted", model=model, temperature=0.0, top_p=1.0, max_tokens=256)
         for role, model in (("extractor", "ext"), ("solver", "sol"), ("judge", "judge"), ("optimizer", "opt"))}
LONG_OBSERVATION = "You see a long corridor. " * 2000  # 50,000 characters: cut in the report


def toy_info(dataset: str) -> tuple[str, bool]:
    """toyalpha is an in-distribution personalization set, toybeta an out-of-distribution problem set."""
    return ("personalization", False) if dataset == "toyalpha" else ("problem-solving", True)


@dataclass
class Study:
    root: Path
    simple: Path
    keep_numbers: Path
    evolve: Path
    episode: Path
    gepa: Path

    @property
    def all(self) -> list[Path]:
        return [self.simple, self.keep_numbers, self.evolve, self.episode, self.gepa]


def _spec(command: str, prompt: ExtractionPrompt, **extra: object) -> RunSpec:
    return RunSpec(clue_version="test", command=command, roles=ROLES, prompt_name=prompt.name,  # type: ignore[arg-type]
                   prompt_hash=prompt.hash, prompt_text=prompt.text, **extra)  # type: ignore[arg-type]


async def _eval_run(out: Path, prompt: ExtractionPrompt) -> None:
    llm = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    runner = Runner(llm, tasks=fake_tasks, info=toy_info)
    pairs = make_pairs(12, start=200)
    plan = EvalPlan(prompt, pairs, {"toyalpha": 2, "toybeta": 2}, {"datasets": ["toyalpha", "toybeta"],
                                                                     "split": "test"})
    results = await run_plan(llm, plan, out, runner=runner)
    if (out / RUNLOG).exists():  # the runner writes its own run log
        return
    write_runlog(out, RunLog(status="finished", started=now(), finished=now(),
                             spec=_spec("eval", prompt, datasets=["toyalpha", "toybeta"], split="test"),
                             results=results, usage=llm.ledger.snapshot(),
                             samples=SamplesRef(count=plan.total)))


class ProgressRecorder(Reporter):
    """What the run log keeps per round: spend and best so far, read from state.json as the round closes."""

    def __init__(self, run_dir: Path, ledger: Ledger) -> None:
        self.run_dir = run_dir
        self.ledger = ledger
        self.progress: list[RoundProgress] = []

    def round_finished(self, report: RoundReport) -> None:
        state = json.loads((self.run_dir / "state.json").read_text())
        rs = state["rounds"][report.round - 1]
        best = state["prompts"][rs["winner"]]
        finals = {s["prompt_hash"]: s["accuracy"] for s in rs["finals"]}
        tournament = {s["prompt_hash"]: s["accuracy"] for s in rs["tournament"]}
        self.progress.append(RoundProgress(
            round=report.round, rollouts_spent=state["budget"]["rollouts_spent"],
            tokens_spent=state["budget"]["tokens_spent"], best_hash=best["hash"], best_name=best["name"],
            best_score=finals.get(best["hash"], tournament.get(best["hash"])), tournament=tournament, finals=finals,
            usage=self.ledger.snapshot()))


async def _evolve_run(out: Path) -> None:
    llm = LLM(settings(), backend=ScriptedBackend(World()), cache=None)
    seed = load_prompt("simple")
    recorder = ProgressRecorder(out, llm.ledger)
    job = EvolutionJob("clue", seed, make_pairs(24), make_pairs(6, start=100),
                       EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2), Budget(), out)
    outcome = await run_evolution(job, llm, runner=Runner(llm, tasks=fake_tasks, info=toy_info), reporter=recorder)
    assert outcome.seed is not None and outcome.best is not None
    if (out / RUNLOG).exists():  # written by the evolution itself; per-round usage is an optional extra
        log = read_runlog(out)
        assert log.evolution is not None
        usage = {p.round: p.usage for p in recorder.progress}
        written = log.evolution.progress
        log.evolution.progress = [p.model_copy(update={"usage": usage.get(p.round, {})}) for p in written] \
            or recorder.progress
        write_runlog(out, log)
        return
    write_runlog(out, RunLog(
        status="finished", started=now(), finished=now(), spec=_spec("evolve", seed, method="clue"),
        usage=llm.ledger.snapshot(), samples=SamplesRef(count=sum(1 for _ in (out / "rollouts.jsonl").open())),
        evolution=EvolutionRecord(method="clue", progress=recorder.progress, stopped_by=None,
                                  seed_results=outcome.seed, best_results=outcome.best)))


def episode_rollouts(prompt: ExtractionPrompt, n: int) -> list[Rollout]:
    """Rollouts with every event kind: extractor and solver calls, code runs, an environment episode, a score."""
    out = []
    for i in range(n):
        won = i % 2 == 0
        source = f"<conversation>\n[user] Find the key in room {i}. The key is under the mat.\n</conversation>"
        memory = f"1. In room {i} the key was under the mat."
        events = [
            LLMCallEvent(role="extractor", messages=[{"role": "system", "content": prompt.text},
                                                     {"role": "user", "content": source}],
                         reply=memory, prompt_tokens=120, completion_tokens=20, latency_s=0.4),
            NoteEvent(text="memory placed in the system block"),
            EnvResetEvent(observation=f"You are in room {i}. " + (LONG_OBSERVATION if i == 0 else "")),
            LLMCallEvent(role="solver", messages=[{"role": "system", "content": f"Memory:\n{memory}"},
                                                  {"role": "user", "content": "What do you do?"}],
                         reply="look under mat", prompt_tokens=60, completion_tokens=4, latency_s=0.2),
            EnvStepEvent(index=1, action="look under mat", observation="You find a key." if won else "Nothing.",
                         reward=1.0 if won else 0.0, done=True),
            CodeRunEvent(code="print(6 * 7)", stdout="42\n", exit_code=0, seconds=0.05),
            CodeRunEvent(code="while True: pass", exit_code=None, timed_out=True, limit="time", seconds=5.0),
            ScoreEvent(reward=1.0 if won else 0.0, success=won, detail="goal reached" if won else "no key"),
        ]
        out.append(Rollout(rollout_id=rollout_id(prompt.hash, f"rooms:{i}:{i}", 0), prompt_name=prompt.name,
                           prompt_hash=prompt.hash, dataset="rooms", subset="rooms", category="agentic", ood=False,
                           source_id=i, target_id=i, repeat=0, memory=memory, solver_output="look under mat",
                           reward=1.0 if won else 0.0, success=won, score_detail="goal reached" if won else "no key",
                           extract_prompt_tokens=120, extract_completion_tokens=20, solve_prompt_tokens=60,
                           solve_completion_tokens=4, latency_s=0.6, events=events))
    return out


def _episode_run(out: Path) -> None:
    prompt = load_prompt("factual-experiential")
    rollouts = episode_rollouts(prompt, 4)
    store = RolloutStore(out / "rollouts.jsonl")
    for rollout in rollouts:
        store.append(rollout)
    store.close()
    usage = {"extractor": {"calls": 4, "cached_calls": 0, "failed_calls": 0, "prompt_tokens": 480,
                           "completion_tokens": 80, "latency_s": 1.6, "total_tokens": 560},
             "solver": {"calls": 4, "cached_calls": 1, "failed_calls": 0, "prompt_tokens": 180,
                        "completion_tokens": 12, "latency_s": 0.6, "total_tokens": 192}}
    write_runlog(out, RunLog(status="finished", started=now(), finished=now(),
                             spec=_spec("eval", prompt, datasets=["rooms"], split="test"),
                             results=aggregate(rollouts), usage=usage,
                             samples=SamplesRef(count=len(rollouts))))


GEPA_SEED = "Extract the facts.\n"
GEPA_CHILD = "Extract the facts.\nKeep every number exactly.\n"
GEPA_REJECTED = "Extract the facts.\nKeep every name.\n"


def _gepa_run(out: Path) -> None:
    out.mkdir(parents=True)
    seed, child, bad = (prompt_hash(t) for t in (GEPA_SEED, GEPA_CHILD, GEPA_REJECTED))
    entries = [
        {"hash": seed, "parent": None, "iteration": 0, "status": "seed", "minibatch_before": None,
         "minibatch_after": None, "val_score": 0.25, "reason": "", "diff": "", "prompt": GEPA_SEED},
        {"hash": child, "parent": seed, "iteration": 1, "status": "accepted", "minibatch_before": 1.0,
         "minibatch_after": 3.0, "val_score": 0.75, "reason": "", "prompt": GEPA_CHILD,
         "diff": f"--- {seed}\n+++ {child}\n@@ -1 +1,2 @@\n Extract the facts.\n+Keep every number exactly.\n"},
        {"hash": bad, "parent": child, "iteration": 2, "status": "rejected", "minibatch_before": 3.0,
         "minibatch_after": 2.0, "val_score": None, "reason": "new subsample score 2.0 is not better than 3.0",
         "prompt": GEPA_REJECTED, "diff": f"--- {child}\n+++ {bad}\n@@ -2 +2 @@\n-Keep every number exactly.\n"
                                          f"+Keep every name.\n"},
    ]
    (out / "lineage.json").write_text(json.dumps(entries, indent=2))
    (out / "state.json").write_text(json.dumps({"method": "gepa", "status": "done", "best_hash": child}))
    (out / "best_prompt.txt").write_text(GEPA_CHILD)
    (out / "rollouts.jsonl").write_text("")
    progress = [RoundProgress(round=1, rollouts_spent=30, tokens_spent=9000, best_hash=seed, best_name="seed",
                              best_score=0.25),
                RoundProgress(round=2, rollouts_spent=60, tokens_spent=21000, best_hash=child, best_name="gepa-1",
                              best_score=0.75)]
    write_runlog(out, RunLog(status="finished", started=now(), finished=now(),
                             spec=_spec("evolve", ExtractionPrompt("seed", GEPA_SEED), method="gepa"),
                             usage={"optimizer": {"calls": 2, "cached_calls": 0, "failed_calls": 0,
                                                  "prompt_tokens": 4000, "completion_tokens": 800,
                                                  "latency_s": 3.0, "total_tokens": 4800}},
                             evolution=EvolutionRecord(method="gepa", progress=progress, best_hash=child)))


async def build_study(root: Path) -> Study:
    study = Study(root, root / "simple", root / "keep-numbers", root / "evolve", root / "episode", root / "gepa")
    await _eval_run(study.simple, load_prompt("simple"))
    await _eval_run(study.keep_numbers, ExtractionPrompt("keep-numbers", load_prompt("simple").text
                                                         + "\n- KEEP-NUMBERS: keep every number exactly.\n"))
    await _evolve_run(study.evolve)
    _episode_run(study.episode)
    _gepa_run(study.gepa)
    return study


@pytest.fixture(scope="session")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return asyncio.run(build_study(tmp_path_factory.mktemp("study")))
