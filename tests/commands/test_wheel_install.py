"""clue installed from a wheel (not editable, run outside the checkout) works with --data-root/--env-root.

The wheel is built with `pip wheel --no-deps` from a copy of the sources (so the checkout gets no build
files), installed into a fresh venv whose dependencies come from the running interpreter's site-packages
(a .pth line), and `clue datasets` runs from a folder that has nothing of the checkout in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from clue.bench.data.loader import default_data_root
from clue.bench.envs.root import default_env_root

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    # Nothing points back at the checkout: no PYTHONPATH, no CLUE_* roots, no active venv.
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTHONPATH", "VIRTUAL_ENV"} and not key.startswith("CLUE_")}
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=180,
                          env={**env, "COLUMNS": "200"})
    assert done.returncode == 0, f"{command}: {done.stdout[-1500:]}{done.stderr[-1500:]}"
    return done.stdout


def test_an_installed_wheel_runs_outside_the_checkout(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, sources / name)
    shutil.copytree(ROOT / "src", sources / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", sources)
    wheel = next((tmp_path / "dist").glob("clue-*.whl"))

    venv = tmp_path / "venv"
    run(Path(sys.base_prefix) / "bin" / "python3", "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
        "--no-index", wheel)
    site = Path(run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(venv / "bin" / "python", "-c", "import clue; print(clue.__file__)", cwd=elsewhere)
    assert where.startswith(str(site)), where
    data_root, env_root = default_data_root(), default_env_root()
    out = run(venv / "bin" / "clue", "datasets", "--data-root", data_root, "--env-root", env_root, cwd=elsewhere)
    rows = {line.split("│")[1].strip(): line.split("│")[4].strip() for line in out.splitlines()
            if line.count("│") == 5 and "dataset" not in line}
    assert len(rows) == 18, out
    for runnable in ("membench-high", "GameOf24", "pddl", "alfworld"):
        assert rows[runnable] == "yes", out
    assert f"env root {env_root}" in out and str(venv) not in out, out
    # This release has no BigCodeBench pairs: said of the --data-root given, not of a path inside the venv.
    assert f"- bigcodebench: no data file {data_root}/data_collection" in out, out
    assert run(venv / "bin" / "clue", "--version", cwd=elsewhere).startswith("clue ")
    # Without the roots, an installed clue looks under the current directory, and says where it looked.
    bare = run(venv / "bin" / "clue", "datasets", cwd=elsewhere)
    assert f"env root {elsewhere.resolve()}/shared/agentic" in bare, bare
