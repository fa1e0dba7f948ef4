"""Which module implements which agentic dataset's environment. Modules are imported only when needed,
so a missing optional package affects only its own dataset."""

from __future__ import annotations

import importlib

from clue.bench.envs.base import EnvSpec

ENV_MODULES: dict[str, str] = {
    "alfworld": "clue.bench.envs.alfworld",
    "babyai": "clue.bench.envs.babyai",
    "fever": "clue.bench.envs.fever",
    "pddl": "clue.bench.envs.pddl",
    "scienceworld": "clue.bench.envs.scienceworld",
    "toolbench": "clue.bench.envs.toolbench",
}


def env_spec(dataset: str) -> EnvSpec:
    """The EnvSpec of an agentic dataset (registry name, e.g. "scienceworld"); KeyError if it has none."""
    module = importlib.import_module(ENV_MODULES[dataset])
    spec: EnvSpec = module.SPEC
    return spec
