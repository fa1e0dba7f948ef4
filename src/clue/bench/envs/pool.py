"""A pool of live environments for the episode solver.

Environments are synchronous (a game engine, a JVM, a planner): each live one runs in its own worker
thread, so the event loop keeps serving LLM calls while environments step, and an environment that is not
thread-safe only ever sees its one thread. The pool has its own concurrency limit (`EnvSpec.pool_size`,
overridable), separate from the LLM's. Where the environment allows it (`EnvSpec.reusable`), a finished
episode hands its environment back for the next one instead of paying for start-up again; an environment
that failed or hung is closed and replaced.

Environments import their packages lazily, and two pool threads importing one package at the same moment
see it half-initialized (pddlgym: "partially initialized module"). So the first environment of each dataset
in a process is made, and its `preload` run, under one process-wide lock; later ones start in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from clue.bench.envs.base import EnvironmentFailure, EnvSpec
from clue.errors import ClueError

T = TypeVar("T")

_FIRST_MAKE_LOCK = threading.Lock()
_PRELOADED: set[str] = set()  # datasets whose first environment this process has made


def make_environment(spec: EnvSpec, env_root: Path) -> Any:
    """`spec.make(env_root)`; the first one of its dataset in this process, and its imports, under one lock."""
    if spec.dataset in _PRELOADED:
        return spec.make(env_root)
    with _FIRST_MAKE_LOCK:
        env = spec.make(env_root)
        if spec.dataset not in _PRELOADED:
            if spec.preload is not None:
                spec.preload()
            _PRELOADED.add(spec.dataset)
    return env


@dataclass
class LiveEnv:
    """One environment and the thread it runs in."""

    env: Any  # an Environment
    thread: ThreadPoolExecutor
    episodes: int = 0
    broken: bool = False

    async def call(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None) -> T:
        """Run `fn(*args)` on this environment's thread; a crash or hang breaks the environment."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self.thread, fn, *args), timeout_s)
        except TimeoutError:
            self.broken = True
            raise EnvironmentFailure(f"environment did not answer within {timeout_s:g} s") from None
        except ClueError:
            self.broken = True
            raise
        except Exception as exc:
            self.broken = True
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise EnvironmentFailure(f"environment crashed: {type(exc).__name__}: {first[:200]}") from exc


@dataclass
class EnvPool:
    spec: EnvSpec
    env_root: Path
    size: int | None = None  # live environments at once; None: spec.pool_size
    call_timeout_s: float | None = 300.0  # per reset/step; a hung environment is abandoned
    created: int = 0
    _idle: list[LiveEnv] = field(default_factory=list)
    _gate: asyncio.Semaphore | None = None

    @property
    def limit(self) -> int:
        return max(1, self.size or self.spec.pool_size)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limit)
        return self._gate

    async def _make(self) -> LiveEnv:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"env-{self.spec.dataset}")
        live = LiveEnv(env=None, thread=thread)
        try:
            live.env = await live.call(make_environment, self.spec, self.env_root, timeout_s=self.call_timeout_s)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self.created += 1
        return live

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[LiveEnv]:
        """An environment for one episode; it returns to the pool afterwards if it is reusable and intact."""
        async with self._semaphore():
            live = self._idle.pop() if self._idle else await self._make()
            keep = False
            try:
                yield live
                live.episodes += 1
                keep = self.spec.reusable and not live.broken
            finally:
                if keep:
                    self._idle.append(live)
                else:
                    await self._dispose(live)

    async def _dispose(self, live: LiveEnv) -> None:
        if not live.broken:
            with contextlib.suppress(Exception):
                await live.call(live.env.close, timeout_s=self.call_timeout_s)
        # A hung thread cannot be killed; it is left to finish on its own.
        live.thread.shutdown(wait=False)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for live in idle:
            await self._dispose(live)
