"""placeholder"""
from collections.abc import Mapping
from typing import Any
def system_prompt(target: Mapping[str, Any]) -> str:
    return ""
def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str) -> str:
    return ""
