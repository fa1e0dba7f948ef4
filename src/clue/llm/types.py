"""Plain data types shared by every LLM backend and by the callers of `clue.llm`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

# Defined with the settings (which must not import clue.llm) and re-exported here.
from clue.config import ROLES as ROLES
from clue.config import Decoding as Decoding
from clue.config import Role as Role
from clue.errors import TransientError, UpstreamError


class Message(TypedDict):
    role: str
    content: str


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
    endpoint: str | None = None  # the server that answered (its base URL), for usage per endpoint

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class LLMError(UpstreamError):
    """A call that failed for good. The message is one line and names the culprit."""


class TransientLLMError(LLMError, TransientError):
    """A call that may succeed when retried: connection refused, 429, 5xx, timeout."""


class EndpointFaultError(TransientLLMError):
    """The server itself failed (unreachable, 5xx, silent): with several endpoints, it is taken out."""


class EndpointRefusedError(EndpointFaultError):
    """Nothing listens at the endpoint: fails at once, without retries (a server that is down stays down)."""


class EndpointTimeoutError(EndpointFaultError):
    """The endpoint accepted the request but sent no reply within the timeout; retried once at most."""


class ContextOverflowError(LLMError):
    """The request cannot fit the model's context even after truncating the source."""
