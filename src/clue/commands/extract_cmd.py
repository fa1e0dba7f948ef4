"""`clue extract`: print the memory one prompt extracts from one conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clue.commands.common import fail, options, read_json_file, run_async, warn


def conversation_turns(data: Any, path: Path) -> list[dict[str, str]]:
    """Accept a list of {role, content} turns, or an object with a `messages` list (a BEHEMOTH source line)."""
    turns = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(turns, list) or not turns:
        raise fail(f"{path}: expected a list of {{role, content}} turns or an object with `messages`")
    for index, turn in enumerate(turns):
        if not (isinstance(turn, dict) and isinstance(turn.get("role"), str)
                and isinstance(turn.get("content"), str)):
            raise fail(f"{path}: turn {index} needs string `role` and `content`")
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def extract_command(
    ctx: typer.Context,
    conversation: Path = typer.Option(..., help="JSON file: a list of {role, content} turns."),
    prompt: str = typer.Option("simple", help="Built-in prompt name or a prompt file."),
) -> None:
    """Extract memory from one conversation and print it.

    Example: clue extract --prompt factual-experiential --conversation chat.json
    """
    from clue.llm.client import LLM
    from clue.memory.extract import extract_memory
    from clue.memory.prompts import load_prompt

    opts = options(ctx)
    turns = conversation_turns(read_json_file(conversation), conversation)

    async def job() -> None:
        llm = LLM(opts.settings())
        try:
            result = await extract_memory(llm, load_prompt(prompt), turns)
        finally:
            await llm.aclose()
        for note in result.notes:
            warn(f"note: {note}")
        # The memory goes out as is (no wrapping, no markup), so `clue extract ... > memory.txt` is exact.
        typer.echo(result.memory or "(no memory)")

    run_async(job)


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_command)
