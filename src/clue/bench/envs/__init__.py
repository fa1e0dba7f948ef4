"""Environments for agentic datasets, one module each, behind `clue.bench.envs.base.Environment`."""
