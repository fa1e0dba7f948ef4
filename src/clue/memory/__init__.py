"""Extraction of memory from a source conversation, and its injection into the solver."""
