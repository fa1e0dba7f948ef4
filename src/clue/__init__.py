"""clue: memory extraction measured by downstream utility, with a self-evolving extraction prompt."""

__version__ = "0.1.0"
