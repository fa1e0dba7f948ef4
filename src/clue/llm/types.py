"""Plain data types shared by every LLM backend and by the callers of `clue.llm`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from clue.errors import TransientError, UpstreamError

Role = Literal["extractor", "solver", "judge", "optimizer"]
ROLES: tuple[Role, ...] = ("extractor", "solver", "judge", "optimizer")


class Message(TypedDict):
    role: str
    content: str


@dataclass(frozen=True)
class Decoding:
    """Sampling parameters for one call. `seed` makes local sampling repeatable."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int | None = None
    thinking: bool | None = None  # None: send nothing and leave the endpoint's chat template at its default
    stop: tuple[str, ...] = ()  # the reply ends before the first of these (not included); () sends none

    def as_key(self) -> dict[str, Any]:
        key: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p,
                               "max_tokens": self.max_tokens, "seed": self.seed}
        if self.thinking is not None:  # absent when unset, so caches written before the switch still hit
            key["thinking"] = self.thinking
        if self.stop:  # likewise absent when unset
            key["stop"] = list(self.stop)
        return key


@dataclass
class Completion:
    """What a backend returns for one chat call."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str = "stop"
    cached: bool = False
    notes: list[str] = field(default_factory=list)
    raw_text: str | None = None  # the reply before <think> stripping, when stripping changed it
    cut_in_thinking: bool = False  # hit max_tokens before the reasoning ended: no answer was written
    sent_messages: list[Message] | None = None  # the request as sent, after fitting it into the context

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class LLMError(UpstreamError):
    """A call that failed for good. The message is one line and names the culprit."""


class TransientLLMError(LLMError, TransientError):
    """A call that may succeed when retried: connection refused, 429, 5xx, timeout."""


class EndpointRefusedError(TransientLLMError):
    """Nothing listens at the endpoint: fails at once, without retries (a server that is down stays down)."""


class EndpointTimeoutError(TransientLLMError):
    """The endpoint accepted the request but sent no reply within the timeout; retried once at most."""


class ContextOverflowError(LLMError):
    """The request cannot fit the model's context even after truncating the source."""
