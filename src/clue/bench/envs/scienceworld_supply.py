"""Fresh ScienceWorld simulators, one per episode, optionally started ahead of need.

Every episode gets a simulator (a JVM) that has never run another episode, as the reference does. Starting
a JVM costs seconds, so a supply may keep `spare` simulators starting in the background: they are just as
fresh when taken (started, never loaded), and the next episode does not wait for the start.
`CLUE_SCIENCEWORLD_SPARE` sets the shared supply's spare count (`perf/scienceworld_pool.py` measures it).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

ENV_STEP_LIMIT = 50  # the reference's simulator setting; above the 30-turn cap, so it never ends an episode
DEFAULT_SPARE = 0  # the reference starts each JVM at reset; on 2 busy cores a spare bought nothing


class Simulator(Protocol):
    """The part of `scienceworld.ScienceWorldEnv` the environment uses."""

    def load(self, taskName: str, variationIdx: int = ..., simplificationStr: str = ...,
             generateGoldPath: bool = ...) -> None: ...

    def reset(self) -> tuple[str, dict[str, Any]]: ...

    def inventory(self) -> str: ...

    def step(self, input_str: str) -> tuple[str, int, bool, dict[str, Any]]: ...

    def get_possible_actions(self) -> list[str]: ...

    def close(self) -> None: ...


def import_simulator() -> None:
    """Import the scienceworld package (its py4j gateway); the pool calls it once, before any JVM starts."""
    import scienceworld  # noqa: F401


def start_simulator() -> Simulator:
    """Launch a new JVM running the simulator (the jar that ships inside the scienceworld package)."""
    from scienceworld import ScienceWorldEnv

    simulator: Simulator = ScienceWorldEnv("", None, envStepLimit=ENV_STEP_LIMIT)
    return simulator


def stop_simulator(simulator: Simulator) -> None:
    try:
        simulator.close()
    except Exception:  # a JVM that already died has nothing left to close
        return


class SimulatorSupply:
    """Hands out never-used simulators; keeps `spare` more starting in the background when spare > 0."""

    def __init__(self, spare: int = 0, start: Callable[[], Simulator] = start_simulator) -> None:
        if spare < 0:
            raise ValueError(f"spare simulators must be 0 or more, got {spare}")
        self.spare = spare
        self._start = start
        self._lock = threading.Lock()
        self._starting: deque[Future[Simulator]] = deque()
        self._workers = (ThreadPoolExecutor(max_workers=spare, thread_name_prefix="scienceworld-start")
                         if spare else None)
        self._closed = False

    def _top_up(self) -> None:
        while self._workers is not None and not self._closed and len(self._starting) < self.spare:
            self._starting.append(self._workers.submit(self._start))

    def take(self) -> Simulator:
        """A fresh simulator: a spare one if one is starting or ready, else one started now."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the ScienceWorld simulator supply is closed")
            pending = self._starting.popleft() if self._starting else None
            self._top_up()
        return pending.result() if pending is not None else self._start()

    def prime(self) -> None:
        """Start the spare simulators now (otherwise they start at the first `take`)."""
        with self._lock:
            self._top_up()

    def discard(self, simulator: Simulator) -> None:
        """A simulator is never reused: an episode's end stops its JVM."""
        stop_simulator(simulator)

    def close(self) -> None:
        """Stop the spare simulators and accept no more requests."""
        with self._lock:
            self._closed = True
            pending, self._starting = list(self._starting), deque()
        for future in pending:
            if not future.cancel():
                try:
                    stop_simulator(future.result())
                except Exception:  # a start that failed left nothing running
                    continue
        if self._workers is not None:
            self._workers.shutdown(wait=True)


_shared: SimulatorSupply | None = None
_shared_lock = threading.Lock()


def shared_supply() -> SimulatorSupply:
    """The process-wide supply behind `SPEC.make`; its spares stop when the process exits."""
    global _shared
    with _shared_lock:
        if _shared is None:
            spare = int(os.environ.get("CLUE_SCIENCEWORLD_SPARE", DEFAULT_SPARE))
            _shared = SimulatorSupply(spare=spare)
            atexit.register(_shared.close)
        return _shared
