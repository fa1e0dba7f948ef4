"""Checks shared by the environment tests on the released 1-shot transcripts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def count_actions_read_as_released(outputs: Iterable[dict[str, Any]], parse_action: Callable[[str], str]) -> int:
    """Assert that `parse_action` reads every assistant reply as the released `trajectory` recorded it;
    return how many replies were checked."""
    checked = 0
    for output in outputs:
        replies = [message["content"] for message in output["messages"] if message["role"] == "assistant"]
        for reply, item in zip(replies, output["trajectory"], strict=True):
            assert parse_action(reply) == item["action"]
            checked += 1
    return checked
