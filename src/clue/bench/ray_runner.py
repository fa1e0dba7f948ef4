"""Rollouts as Ray tasks (`--executor ray`): extraction, solving (LLM calls, episodes, code runs) and scoring
run on a Ray cluster's workers; the driver alone writes the run directory.

Each worker process keeps one LLM client and one solver registry (environment pools) per settings, on its
own event loop. A rollout comes back whole; the driver appends it to the run's store and records its LLM
calls in its own ledger, so usage and budgets count them as if they had run in-process. Every node needs
clue installed (`pip install 'clue[ray]'`) and the data and env roots at the same paths; the response cache
is shared where its path is (one machine), else each node keeps its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clue.bench.data.records import Pair
from clue.bench.run.events import LLMCallEvent
from clue.bench.run.rollouts import Rollout
from clue.bench.run.runner import Runner
from clue.bench.solvers.registry import SolverOptions, SolverRegistry
from clue.config import Settings
from clue.errors import BadInputError
from clue.llm.client import LLM
from clue.llm.types import Completion, TransientLLMError
from clue.memory.prompts import ExtractionPrompt

_WORKERS: dict[str, tuple[asyncio.AbstractEventLoop, Runner]] = {}


def _worker_runner(settings_json: str, options: SolverOptions) -> tuple[asyncio.AbstractEventLoop, Runner]:
    key = hashlib.sha256((settings_json + repr(options)).encode()).hexdigest()
    if key not in _WORKERS:
        loop = asyncio.new_event_loop()
        llm = LLM(Settings.model_validate_json(settings_json))
        _WORKERS[key] = (loop, Runner(llm, solvers=SolverRegistry(options)))
    return _WORKERS[key]


def run_rollout_here(settings_json: str, options: SolverOptions, prompt: ExtractionPrompt, pair: Pair,
                     repeat: int) -> str:
    """What a Ray task runs: one whole rollout, returned as its JSON record."""
    loop, runner = _worker_runner(settings_json, options)
    rollout = loop.run_until_complete(runner.run_one(prompt, pair, repeat))
    return rollout.model_dump_json()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BadInputError("--executor ray needs Ray, which is not installed: install clue's `ray` extra "
                            "(or pip install ray)") from None
    return ray


def connect(address: str | None) -> None:
    """Join the cluster at `address` (None: start a local one), once per process."""
    ray = _ray()
    if ray.is_initialized():
        return
    package_root = str(Path(__file__).resolve().parents[2])  # where this clue is importable from, locally
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    ray.init(address=address, log_to_driver=False, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}})


@dataclass
class RayRunner(Runner):
    """A Runner whose rollouts run as Ray tasks; `evaluate` (and so the run dir writing) stays on the driver."""

    solver_options: SolverOptions = field(default_factory=SolverOptions)
    cpus_per_rollout: float = 1.0
    _remote: Any = None

    async def run_one(self, prompt: ExtractionPrompt, pair: Pair, repeat: int) -> Rollout:
        ray = _ray()
        if self._remote is None:
            self._remote = ray.remote(num_cpus=self.cpus_per_rollout, max_retries=0)(run_rollout_here)
        settings = self.llm.settings
        if settings.cache_path is not None:
            settings = settings.model_copy(update={"cache_path": settings.cache_path.resolve()})
        try:
            text = await self._remote.remote(settings.model_dump_json(), self.solver_options, prompt, pair, repeat)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, TransientLLMError):
                raise cause from None
            raise
        rollout = Rollout.model_validate_json(text)
        self._count_calls(rollout)
        return rollout

    def _count_calls(self, rollout: Rollout) -> None:
        """The worker's calls, in the driver's ledger (usage journal, budgets)."""
        for event in rollout.events:
            if isinstance(event, LLMCallEvent):
                self.llm.ledger.record(event.role, Completion(  # type: ignore[arg-type]
                    text=event.reply, prompt_tokens=event.prompt_tokens, completion_tokens=event.completion_tokens,
                    latency_s=event.latency_s, finish_reason=event.finish_reason, cached=event.cached))


def check_executor(executor: str) -> None:
    """Refuse, before anything is written, an unknown executor or Ray where it is not installed."""
    if executor not in ("local", "ray"):
        raise BadInputError(f"--executor {executor!r}: expected local or ray")
    if executor == "ray":
        _ray()


def make_runner(llm: LLM, options: SolverOptions, *, executor: str = "local",
                ray_address: str | None = None) -> Runner:
    """The in-process Runner, or a RayRunner on the cluster at `ray_address` (None: a local Ray instance)."""
    check_executor(executor)
    if executor == "local":
        return Runner(llm, solvers=SolverRegistry(options))
    connect(ray_address)
    return RayRunner(llm, solver_options=options)
