"""Built-in extraction prompts (written for clue) by name, or a prompt read from a file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clue.errors import BadInputError, NotFoundError

NO_MEMORY = "no-memory"
BUILTIN_PROMPTS = ("simple", "mem0-style", "reasoningbank-style", "openmemory-style", "success-failure",
                   "factual-experiential", "survey")


@dataclass(frozen=True)
class ExtractionPrompt:
    name: str
    text: str  # empty for the no-memory control

    @property
    def is_control(self) -> bool:
        return self.name == NO_MEMORY

    @property
    def hash(self) -> str:
        return prompt_hash(self.text if not self.is_control else NO_MEMORY)


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def builtin_prompt_text(name: str) -> str:
    return resources.files("clue.memory").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")


def load_prompt(name_or_path: str) -> ExtractionPrompt:
    """A built-in name, `no-memory`, or a path to a text file holding a prompt."""
    if name_or_path == NO_MEMORY:
        return ExtractionPrompt(NO_MEMORY, "")
    if name_or_path in BUILTIN_PROMPTS:
        return ExtractionPrompt(name_or_path, builtin_prompt_text(name_or_path))
    path = Path(name_or_path)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise BadInputError(f"{path}: prompt file is empty")
        return ExtractionPrompt(path.stem, text)
    known = ", ".join((NO_MEMORY, *BUILTIN_PROMPTS))
    raise NotFoundError(f"unknown prompt {name_or_path!r}: not a file and not one of {known}")
