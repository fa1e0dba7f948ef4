"""Every environment is safe under the pool at its defaults: several fresh processes each start more episodes
than the default pool size at once (the first imports of the environment's packages race there), reset
them on released targets and step each once; none may crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clue.bench.data.loader import default_data_root
from clue.bench.envs.registry import ENV_MODULES, env_spec
from clue.bench.envs.root import default_env_root

ROOT = Path(__file__).resolve().parents[3]
DATA = default_data_root()
ENV_ROOT = default_env_root()
PROCESSES = 3

EPISODES_AT_ONCE = """
import asyncio, sys
from pathlib import Path
from clue.bench.envs.pool import EnvPool
from clue.bench.envs.registry import env_spec
from clue.bench.envs.replay import released_runs

dataset, data_root, env_root = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
spec = env_spec(dataset)
pool = EnvPool(spec, env_root)
runs = list(released_runs(data_root, dataset))[: pool.limit + 1]

async def episode(target, output):
    async with pool.lease() as live:
        first = await live.call(live.env.reset, target)
        action = spec.parse_transcript(output).steps[0].action
        step = await live.call(live.env.step, action)
        assert first and step.observation, (first, step)

async def main():
    try:
        await asyncio.gather(*(episode(target, output) for target, output in runs))
    finally:
        await pool.aclose()
    print(f"ok {len(runs)} episodes, pool {pool.limit}, made {pool.created}")

asyncio.run(main())
"""


@pytest.mark.parametrize("dataset", sorted(ENV_MODULES))
def test_each_environment_survives_its_default_pool_in_fresh_processes(dataset: str) -> None:
    problem = env_spec(dataset).missing(ENV_ROOT)
    if problem:
        pytest.skip(f"cannot run here: {problem}")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for attempt in range(PROCESSES):
        done = subprocess.run([sys.executable, "-c", EPISODES_AT_ONCE, dataset, str(DATA), str(ENV_ROOT)],
                              capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
        assert done.returncode == 0, f"{dataset}, process {attempt + 1}: {done.stderr[-1500:]}"
        assert done.stdout.startswith("ok "), done.stdout
