"""`python -m clue`: the same command line as the `clue` entry point (a study runs its cells this way)."""

from clue.cli import app

app(prog_name="clue")
