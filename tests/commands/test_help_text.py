"""Help texts reach the reader whole (rich markup does not eat "[evolve]"), and `clue --version`."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from clue import __version__
from clue.cli import app

BRACKETED = re.compile(r"\[[a-z#/@][^\[\]]*\]")


def help_of(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def test_evolve_help_keeps_its_bracketed_words() -> None:
    text = help_of("evolve")
    assert "a key of clue.toml's [evolve] table" in text
    assert "keys of clue.toml [evolve]" in text and "[paper: reuse_rollouts=false]" in text


def test_every_bracketed_word_in_any_help_is_shown() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name, command in group.commands.items():
        texts = [command.help or "", command.epilog or ""] + [getattr(p, "help", None) or "" for p in command.params]
        # The texts hold rich's escapes (a backslash before "["); the reader sees the words without them.
        wanted = {word for text in texts for word in BRACKETED.findall(text.replace("\\[", "["))}
        shown = help_of(name)
        assert [word for word in wanted if word not in shown] == [], name


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"clue {__version__}"
