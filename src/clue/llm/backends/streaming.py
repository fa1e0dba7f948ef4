"""Reading a streamed chat completion: silence detection and the server-sent events folded into one reply.

A streamed request is timed by silence, not by its length: every piece received restarts the clock, so a
20,000-token generation that keeps sending is never cut, while a server that sends nothing for the idle
limit is. One timer per request, re-armed lazily, keeps the per-token cost to one attribute write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

NOTICE_AFTER_S = 30.0


class SilenceWatch:
    """`async with SilenceWatch(...) as watch:` raises TimeoutError once `idle_s` pass without `watch.touch()`;
    after `notice_after_s` of silence it calls `on_notice` once (a warning that the server is slow)."""

    def __init__(self, idle_s: float, *, notice_after_s: float | None = None,
                 on_notice: Callable[[], None] | None = None) -> None:
        self.idle_s = idle_s
        self.notice_after_s = notice_after_s if on_notice is not None else None
        self.on_notice = on_notice
        self.last = 0.0
        self.expired = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout: asyncio.Timeout | None = None
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> SilenceWatch:
        self._loop = asyncio.get_running_loop()
        self.last = self._loop.time()
        self._timeout = asyncio.timeout(None)
        await self._timeout.__aenter__()
        self._arm()
        return self

    def touch(self) -> None:
        assert self._loop is not None
        self.last = self._loop.time()

    def _arm(self) -> None:
        assert self._loop is not None
        wait = self.idle_s
        if self.notice_after_s is not None and self.notice_after_s < wait:
            wait = self.notice_after_s
        self._handle = self._loop.call_at(self.last + wait, self._check)

    def _check(self) -> None:
        assert self._loop is not None and self._timeout is not None
        silent = self._loop.time() - self.last
        if silent >= self.idle_s - 1e-3:
            self.expired = True
            self._timeout.reschedule(self._loop.time())
            return
        if self.notice_after_s is not None and silent >= self.notice_after_s - 1e-3:
            self.notice_after_s = None
            if self.on_notice is not None:
                self.on_notice()
        self._arm()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._handle is not None:
            self._handle.cancel()
        assert self._timeout is not None
        await self._timeout.__aexit__(kind, error, trace)


@dataclass
class StreamedReply:
    """The chunks of a streamed chat completion folded into the non-streamed reply's shape."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunks: int = 0
    error: object = None
    choices_seen: bool = False  # any event carried a choice: without one, the stream is no completion at all
    first_data: str = ""  # the first event as sent, to name a stream that is no completion

    def add(self, event: dict[str, Any]) -> None:
        if event.get("usage"):
            self.usage = event["usage"]
        if event.get("error"):
            self.error = event["error"]
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            self.choices_seen = True
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                self.content.append(piece)
                self.chunks += 1
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought:
                self.reasoning.append(thought)
                self.chunks += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def as_completion_body(self, prompt_estimate: int = 0) -> dict[str, Any]:
        """The reply as a chat.completion body. Without a usage chunk (a server that ignores stream_options),
        completion tokens are the pieces received (servers send about one token a piece) and prompt tokens
        the caller's estimate."""
        if self.finish_reason is None and not self.content and self.error is not None:
            return {"error": self.error}
        message = {"role": "assistant", "content": "".join(self.content),
                   "reasoning_content": "".join(self.reasoning)}
        usage = self.usage or {"prompt_tokens": prompt_estimate, "completion_tokens": self.chunks}
        return {"choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}],
                "usage": usage}


async def read_events(lines: AsyncIterator[str], watch: SilenceWatch, reply: StreamedReply) -> None:
    """Fold `data:` lines into `reply` until `[DONE]` or the end of the stream; every line counts as a sign
    of life (servers send keep-alive comments while a long prompt is processed)."""
    async for line in lines:
        watch.touch()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        reply.first_data = reply.first_data or data[:120]
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            reply.add(event)
