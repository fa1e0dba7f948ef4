"""Solvers: one per kind of task, behind `clue.bench.solvers.base.Solver`."""
