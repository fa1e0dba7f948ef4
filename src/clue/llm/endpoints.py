"""One model served by several servers: each call goes to the least loaded one, a failing one is taken out.

Every endpoint has `slots` = concurrency x weight; the pool's ranked semaphore holds the sum of the slots of
the endpoints in service, so callers wait in rank order for the pool as a whole, and a call admitted goes
to the endpoint with the lowest in-flight / slots. An endpoint whose call fails with a server fault
(refused, unreachable, 5xx, silent past the idle limit) is taken out at once (its slots leave the
semaphore) and the call moves to another endpoint; a background probe (a one-token completion) brings it
back. A call never runs twice on the same endpoint within one attempt, and only a failed call is retried,
so nothing is lost or duplicated when one server dies mid-run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from clue.llm.backends.base import Backend
from clue.llm.scheduling import RankedSemaphore
from clue.llm.types import Completion, Decoding, EndpointFaultError, EndpointRefusedError, Message

PROBE_FIRST_S = 1.0
PROBE_MAX_S = 30.0
PROBE_MESSAGES: list[Message] = [{"role": "user", "content": "Reply with OK."}]


class ProbedBackend(Backend, Protocol):
    base_url: str | None
    timeout_s: float


@dataclass
class Endpoint:
    url: str
    backend: ProbedBackend
    slots: int
    in_flight: int = 0
    in_service: bool = True
    calls: int = 0
    faults: int = 0
    last_fault: str = ""
    probe: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def load(self) -> float:
        return self.in_flight / self.slots


class EndpointPool:
    """A Backend over several servers of one model (see the module's docstring)."""

    name = "openai"

    def __init__(self, endpoints: list[tuple[str, ProbedBackend, int]], *,
                 on_change: Callable[[str], None] | None = None, probe_first_s: float = PROBE_FIRST_S) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.endpoints = [Endpoint(url, backend, max(1, slots)) for url, backend, slots in endpoints]
        self.limit = RankedSemaphore(sum(e.slots for e in self.endpoints), fill_tail=True)
        self.on_change = on_change  # told, in one line, when an endpoint is taken out or back
        self.probe_first_s = probe_first_s
        self._back = asyncio.Event()

    def in_service(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.in_service]

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None, grammar: str | None = None) -> Completion:
        """One call on the least loaded endpoint in service; on a server fault, on the next one."""
        tried: set[str] = set()
        fault: EndpointFaultError | None = None
        while True:
            endpoint = await self._choose(model, tried, fault)
            endpoint.in_flight += 1
            try:
                completion = await endpoint.backend.complete(model, messages, decoding, json_schema, grammar)
            except EndpointFaultError as exc:
                fault = exc
                tried.add(endpoint.url)
                endpoint.faults += 1
                self._take_out(endpoint, model, str(exc))
                continue
            finally:
                endpoint.in_flight -= 1
            endpoint.calls += 1
            completion.endpoint = endpoint.url
            return completion

    async def _choose(self, model: str, tried: set[str], fault: EndpointFaultError | None) -> Endpoint:
        """The least loaded endpoint in service not tried yet; while none is in service, wait for a probe
        to bring one back (at most the idle limit). Every endpoint tried: the last fault is the answer."""
        untried = [e for e in self.endpoints if e.url not in tried]
        if not untried and fault is not None:
            raise fault
        deadline = time.monotonic() + max(e.backend.timeout_s for e in self.endpoints)
        while True:
            ready = [e for e in untried if e.in_service]
            if ready:
                return min(ready, key=lambda e: e.load)
            left = deadline - time.monotonic()
            if left <= 0:
                reasons = "; ".join(e.last_fault or "out" for e in untried)
                raise EndpointRefusedError(f"{model}: all {len(self.endpoints)} endpoints are out of service "
                                           f"({reasons})")
            self._back.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._back.wait(), timeout=min(left, 1.0))

    def _take_out(self, endpoint: Endpoint, model: str, reason: str) -> None:
        endpoint.last_fault = reason
        if not endpoint.in_service:
            return
        endpoint.in_service = False
        self.limit.resize(-endpoint.slots)
        self._tell(f"endpoint {endpoint.url} taken out of service ({reason}); its calls go to the others")
        endpoint.probe = asyncio.get_running_loop().create_task(self._probe_until_back(endpoint, model))

    async def _probe_until_back(self, endpoint: Endpoint, model: str) -> None:
        wait = self.probe_first_s
        probe = Decoding(temperature=0.0, top_p=1.0, max_tokens=1)
        while True:
            await asyncio.sleep(wait)
            try:
                await endpoint.backend.complete(model, PROBE_MESSAGES, probe)
            except Exception as exc:  # any failure means: still out
                endpoint.last_fault = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                wait = min(wait * 2, PROBE_MAX_S)
                continue
            break
        endpoint.in_service = True
        endpoint.probe = None
        self.limit.resize(endpoint.slots)
        self._back.set()
        self._tell(f"endpoint {endpoint.url} is back in service")

    def _tell(self, line: str) -> None:
        if self.on_change is not None:
            self.on_change(line)

    def report(self) -> list[dict[str, Any]]:
        """Per endpoint: calls answered, faults, whether it is in service."""
        return [{"url": e.url, "calls": e.calls, "faults": e.faults, "in_service": e.in_service,
                 "slots": e.slots} for e in self.endpoints]

    def count_tokens(self, model: str, text: str) -> int:
        return self.endpoints[0].backend.count_tokens(model, text)

    def context_size(self, model: str) -> int | None:
        return self.endpoints[0].backend.context_size(model)

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.probe is not None:
                endpoint.probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await endpoint.probe
            await endpoint.backend.aclose()
