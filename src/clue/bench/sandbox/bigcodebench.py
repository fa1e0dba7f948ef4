"""BigCodeBench: the 1,140 tasks, and a solution checked against its task's unit tests in the sandbox.

The check follows the reference evaluator: refuse code that holds a process-killing pattern, refuse code
that does not compile, keep only the code the entry point needs (our `ast` version of BigCodeBench's
tree-sitter sanitizer), then run `bigcodebench.eval.untrusted_check` (the `bigcodebench` package, installed
without its dependencies) with the reference's limits, inside the sandbox and under a 120 s hard timeout.
The reward is 1 when every test passes.
"""

from __future__ import annotations

import ast
import functools
import gzip
import importlib.util
import json
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from clue.bench.envs.root import ENV_ROOT_ENV, default_env_root
from clue.bench.sandbox.isolation import (
    GiB,
    MiB,
    RunResult,
    Sandbox,
    SandboxLimits,
    detect_isolation,
    unsafe_code_allowed,
)
from clue.errors import BadInputError, NotFoundError

TASKS_FILE = Path("bigcodebench") / "BigCodeBench.jsonl.gz"
# The reference's hard timeout per solution; its evaluator's own limits (MB and seconds) follow.
CHECK_LIMITS = SandboxLimits(wall_seconds=120.0, cpu_seconds=120, memory_bytes=8 * GiB,
                             file_size_bytes=256 * MiB, processes=64, output_bytes=1 * MiB)
REFERENCE_MEMORY_MB = 30 * 1024
STACK_MB = 10
MIN_TIME_S = 1.0
GT_TIME_S = 60.0
# Code the reference refuses to run at all, because it could kill the evaluator.
DANGEROUS_PATTERNS = ("pkill", "killall", "os.kill(", "os.killpg(", "signal.SIGKILL")
DETAIL_CHARS = 2000

_CHECKER = r"""
import json, sys
payload = json.loads(sys.stdin.read())
from bigcodebench.eval import untrusted_check
status, details = untrusted_check(payload["code"], payload["test"], payload["entry_point"],
                                  payload["max_as_mb"], payload["max_as_mb"], payload["stack_mb"],
                                  payload["min_time"], payload["gt_time"])
details = {name: str(text)[-payload["detail_chars"]:] for name, text in dict(details).items()}
print(payload["nonce"] + json.dumps({"status": status, "details": details}), flush=True)
"""


class BigCodeBenchTask(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    task_id: str
    instruct_prompt: str
    complete_prompt: str = ""
    code_prompt: str
    canonical_solution: str = ""
    test: str
    entry_point: str = "task_func"
    libs: str = "[]"

    @property
    def canonical_code(self) -> str:
        return self.code_prompt + self.canonical_solution

    @property
    def library_names(self) -> list[str]:
        try:
            names = ast.literal_eval(self.libs)
        except (ValueError, SyntaxError):
            return []
        return [str(name) for name in names] if isinstance(names, list | tuple | set) else []


@dataclass(frozen=True)
class TestOutcome:
    passed: bool
    status: str  # pass | fail | timeout | syntax error | dangerous code | empty code | error
    detail: str = ""
    run: RunResult | None = None


@functools.cache
def load_tasks(env_root: Path) -> dict[str, BigCodeBenchTask]:
    """The tasks by id ("BigCodeBench/N") from `<env_root>/bigcodebench/BigCodeBench.jsonl.gz`."""
    path = env_root / TASKS_FILE
    if not path.is_file():
        raise NotFoundError(f"{path}: BigCodeBench tasks file not found (--env-root or {ENV_ROOT_ENV} names "
                            "the folder that holds bigcodebench/)")
    tasks: dict[str, BigCodeBenchTask] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                task = BigCodeBenchTask.model_validate_json(line)
            except ValueError as exc:
                raise BadInputError(f"{path}:{number}: not a BigCodeBench task ({str(exc).splitlines()[0]})") \
                    from None
            tasks[task.task_id] = task
    return tasks


def missing(env_root: Path | None = None, data_root: Path | None = None) -> str | None:
    """What BigCodeBench still needs on this machine (one line), or None when it can run.

    With `data_root`, the BEHEMOTH source and target files count too (the public release has none)."""
    env_root = env_root or default_env_root()
    needs: list[str] = []
    if data_root is not None:
        released = data_root / "data_collection" / "train" / "bigcodebench" / "openai" / "Qwen3-32B"
        needs += [f"{released / name}" for name in ("source_input.jsonl", "target.jsonl")
                  if not (released / name).is_file()]
    if not (env_root / TASKS_FILE).is_file():
        needs.append(f"the tasks file {env_root / TASKS_FILE}")
    isolation = detect_isolation()
    if not isolation.available and not unsafe_code_allowed():
        needs.append(f"a sandbox ({isolation.reason}; or --unsafe-code)")
    for module, hint in (("bigcodebench", "pip install --no-deps -r requirements-nodeps.txt"),
                         ("matplotlib", "pip install -e '.[agentic]'")):
        if importlib.util.find_spec(module) is None:
            needs.append(f"the {module} package ({hint})")
    return "; ".join(needs) or None


# ---------------------------------------------------------------------------------------------------------
# From a model reply to the code that runs

_FENCED = re.compile(r"```(?:python)?\s*(.*?)```", flags=re.DOTALL | re.IGNORECASE)


def extract_code(reply: str) -> str:
    """The first fenced block of a reply (the reference's rule), else the whole reply."""
    match = _FENCED.search(reply or "")
    return (match.group(1) or "").strip() if match else (reply or "").strip()


def sanitize(code: str, entry_point: str) -> str:
    """Keep imports, and the top-level functions, classes and assignments the entry point depends on.

    Example usage, prints and `if __name__ == "__main__":` blocks go; code that does not parse is kept as is.
    """
    try:
        module = ast.parse(code)
    except SyntaxError:
        return code
    imports: list[ast.stmt] = []
    definitions: dict[str, ast.stmt] = {}
    order: list[str] = []
    for node in module.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
            continue
        names = _defined_names(node)
        for name in names:
            if name not in definitions:
                order.append(name)
            definitions[name] = node
    if entry_point not in definitions:
        reachable = set(definitions)
    else:
        reachable, pending = set(), [entry_point]
        while pending:
            name = pending.pop()
            if name in reachable or name not in definitions:
                continue
            reachable.add(name)
            pending.extend(n.id for n in ast.walk(definitions[name]) if isinstance(n, ast.Name))
    kept: list[ast.stmt] = []
    for name in order:
        node = definitions[name]
        if name in reachable and node not in kept:
            kept.append(node)
    kept.sort(key=lambda node: node.lineno)
    lines = code.splitlines()
    parts = [_source(lines, node) for node in imports] + [_source(lines, node) for node in kept]
    return "\n".join(parts) + "\n"


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
    return []


def _source(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[first - 1: node.end_lineno])


@functools.cache
def _matplotlib_font_cache(python: str) -> dict[str, str]:
    """matplotlib's font list, built once outside the sandbox (our own import, no model code), then copied
    into every run's home: without it each run spends seconds rebuilding it."""
    probe = subprocess.run([python, "-c", "import matplotlib, matplotlib.font_manager\n"
                            "print(matplotlib.get_cachedir())"], capture_output=True, text=True, timeout=300,
                           check=False)
    if probe.returncode != 0:
        return {}
    cache_dir = Path(probe.stdout.strip().splitlines()[-1])
    return {f".cache/matplotlib/{path.name}": path.read_text(encoding="utf-8")
            for path in cache_dir.glob("fontlist-*.json")}


async def check_solution(task: BigCodeBenchTask, code: str, sandbox: Sandbox) -> TestOutcome:
    """Run the task's unit tests against `code` in the sandbox; passed only when every test passes."""
    if not code.strip():
        return TestOutcome(False, "empty code")
    for pattern in DANGEROUS_PATTERNS:
        if pattern in code:
            return TestOutcome(False, "dangerous code", f"the reference refuses code containing {pattern!r}")
    try:
        compile(code, "<solution>", "exec")
    except (SyntaxError, ValueError) as exc:
        return TestOutcome(False, "syntax error", str(exc))
    limits = sandbox.limits
    nonce = secrets.token_hex(16)
    payload = {"code": sanitize(code, task.entry_point), "test": task.test, "entry_point": task.entry_point,
               "max_as_mb": min(REFERENCE_MEMORY_MB, limits.memory_bytes // MiB), "stack_mb": STACK_MB,
               "min_time": MIN_TIME_S, "gt_time": GT_TIME_S, "detail_chars": DETAIL_CHARS, "nonce": nonce}
    run = await sandbox.run([sandbox.python, "-c", _CHECKER], stdin=json.dumps(payload),
                            files=_matplotlib_font_cache(sandbox.python))
    reported = [line[len(nonce):] for line in run.stdout.splitlines() if line.startswith(nonce)]
    if not reported:
        status = "timeout" if run.timed_out else "error"
        return TestOutcome(False, status, (run.stderr.strip().splitlines() or [run.limit or ""])[-1], run)
    result = json.loads(reported[-1])
    return TestOutcome(result["status"] == "pass", str(result["status"]), _summary(result["details"]), run)


def _summary(details: dict[str, str]) -> str:
    """One line per failing test: its name and the exception that ended it."""
    lines = []
    for name, trace in details.items():
        last = next((line.strip() for line in reversed(trace.splitlines()) if line.strip()), "")
        lines.append(f"{name}: {last}")
    return "\n".join(lines)[:DETAIL_CHARS]
