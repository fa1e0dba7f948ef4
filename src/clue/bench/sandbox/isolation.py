"""Run model-written code where it can do no harm: bubblewrap namespaces plus kernel resource limits.

Every run gets its own private working directory (removed afterwards), a read-only view of the file
system with a private /tmp and the user's home hidden (only the Python installation is shown), no
network (an empty network namespace), its own PID namespace (when the run ends, the kernel kills
whatever it left behind), its own process group and session, and limits on CPU time, address space,
file size, process count, wall-clock time and captured output.

The process count is limited per run with a cgroup `pids` controller where clue may create cgroups
(root on most Linux hosts), else with RLIMIT_NPROC (which the kernel does not enforce for root).
Where neither bubblewrap nor a process limit is available, model code is refused unless the user
passes `--unsafe-code` (then it runs with the resource limits only, with network and file system open).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clue.bench.run.events import CodeRunEvent
from clue.errors import NotFoundError

GiB = 1024**3
MiB = 1024**2
_KEEP_ENV = ("LANG", "LC_ALL", "TZ")
_CGROUP_PREFIX = "clue-sandbox-"
_UNSAFE = {"allowed": False}


class SandboxUnavailableError(NotFoundError):
    """No isolation for model-written code on this machine, and `--unsafe-code` was not given."""


def allow_unsafe_code(allowed: bool = True) -> None:
    """The `--unsafe-code` switch: run model code without isolation where none is available."""
    _UNSAFE["allowed"] = allowed


def unsafe_code_allowed() -> bool:
    return _UNSAFE["allowed"]


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 30.0
    cpu_seconds: int = 30
    memory_bytes: int = 4 * GiB  # address space per process
    file_size_bytes: int = 64 * MiB
    processes: int = 64
    output_bytes: int = 1 * MiB  # stdout and stderr each; more ends the run


@dataclass
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None  # 128+N when a signal N ended the program; None when killed on a limit
    timed_out: bool
    limit: str | None  # "time" | "memory" | "processes" | "file size" | "output"
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.limit is None

    def to_event(self, code: str) -> CodeRunEvent:
        return CodeRunEvent(code=code, stdout=self.stdout, stderr=self.stderr, exit_code=self.exit_code,
                            timed_out=self.timed_out, limit=self.limit, seconds=round(self.seconds, 3))


@dataclass(frozen=True)
class Isolation:
    """What this machine offers. `reason` says what is missing when `available` is False."""

    available: bool
    bwrap: str | None
    pids_cgroup: Path | None  # parent directory for per-run pids cgroups; None: RLIMIT_NPROC
    reason: str = ""


# ---------------------------------------------------------------------------------------------------------
# Detection


def _cgroup_pids_parent() -> Path | None:
    """A cgroup directory (v1 `pids` hierarchy or v2 with `pids` delegated) where we may create children."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates: list[Path] = []
    for line in mounts:
        fields = line.split()
        if len(fields) < 4:
            continue
        mount_point, fstype, options = Path(fields[1]), fields[2], fields[3].split(",")
        for membership in memberships:
            _, controllers, path = membership.split(":", 2)
            if fstype == "cgroup" and "pids" in options and "pids" in controllers.split(","):
                candidates.append(mount_point / path.lstrip("/"))
            elif fstype == "cgroup2" and controllers == "":
                base = mount_point / path.lstrip("/")
                with contextlib.suppress(OSError):
                    if "pids" in (base / "cgroup.subtree_control").read_text().split():
                        candidates.append(base)
    for parent in candidates:
        probe = parent / f"{_CGROUP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            (probe / "pids.max").write_text("8")
            return parent
        except OSError:
            continue
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()
    return None


@functools.cache
def detect_isolation() -> Isolation:
    """Probe once per process: bubblewrap that can create namespaces here, and a per-run process limit."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation(False, None, None, "bubblewrap (bwrap) is not installed (Debian: apt-get install "
                                            "bubblewrap)")
    probe = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return Isolation(False, bwrap, None, f"bwrap cannot create namespaces here ({detail}); unprivileged "
                                             "user namespaces may be disabled")
    cgroup = _cgroup_pids_parent()
    if cgroup is None and os.geteuid() == 0:
        return Isolation(False, bwrap, None, "running as root, where RLIMIT_NPROC does not apply, and no "
                                             "writable cgroup pids controller was found")
    return Isolation(True, bwrap, cgroup)


def require_isolation() -> Isolation:
    """The isolation to use, or one clear error when there is none and unsafe code was not allowed."""
    isolation = detect_isolation()
    if not isolation.available and not unsafe_code_allowed():
        raise SandboxUnavailableError(f"refusing to run model-written code without a sandbox: {isolation.reason}; "
                                      "pass --unsafe-code to run it unisolated")
    return isolation


# ---------------------------------------------------------------------------------------------------------
# The launcher: our own code, run before the untrusted program, that applies limits and then execs it.

_LAUNCHER = r"""
import json, os, resource, sys
config = json.loads(sys.argv[1])
if config["cgroup"]:
    with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))
limits = dict(config["rlimits"])
if config["nproc"]:
    # RLIMIT_NPROC counts every thread of this user, so the allowance comes on top of what runs now.
    uid, mine = os.getuid(), 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat("/proc/" + pid).st_uid == uid:
                mine += len(os.listdir("/proc/" + pid + "/task"))
        except OSError:
            pass
    limits["RLIMIT_NPROC"] = mine + config["nproc"]
for name, value in limits.items():
    # CPU: the soft limit sends SIGXCPU (so the cause is visible), the hard one a second later SIGKILL.
    resource.setrlimit(getattr(resource, name), (value, value + (name == "RLIMIT_CPU")))
os.execv(config["argv"][0], config["argv"])
"""


def _bwrap_argv(bwrap: str, workdir: Path, env: Mapping[str, str], command: Sequence[str]) -> list[str]:
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc"]
    hidden = _hidden_roots()
    for root in hidden:
        argv += ["--tmpfs", root]
    needed = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(command[0]), *sys.path}
    for path in _inside(hidden, needed):
        argv += ["--ro-bind", path, path]  # the interpreter and its packages stay visible
    argv += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, "--", *command]


def _hidden_roots() -> list[str]:
    """Private, empty in the sandbox: the temporary directories and the user's home (keys, tokens, configs)."""
    roots = ["/tmp", "/var/tmp"]
    home = os.path.realpath(os.path.expanduser("~"))
    if home not in ("/", *roots) and os.path.isdir(home):
        roots.append(home)
    return roots


def _inside(roots: list[str], paths: set[str]) -> list[str]:
    """The existing `paths` (as given and resolved) that lie under one of `roots`, outermost first."""
    found = {p for p in paths | {os.path.realpath(p) for p in paths if p}
             if p and os.path.exists(p) and any(p == r or p.startswith(r + "/") for r in roots)}
    outermost = [p for p in found if not any(p != q and p.startswith(q + "/") for q in found)]
    return sorted(p for p in outermost if p not in roots)


def _sandbox_env(workdir: Path, python: str, extra: Mapping[str, str]) -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEEP_ENV if key in os.environ}
    # `python` in the sandbox is the interpreter clue runs code with (and its packages).
    path = os.pathsep.join([os.path.dirname(python), os.environ.get("PATH", "/usr/bin:/bin")])
    env.update({"PATH": path, "HOME": str(workdir), "TMPDIR": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env.update(extra)
    return env


def _limit_from(stderr: str, signal_number: int | None) -> str | None:
    """Which limit ended a program, from how it died or what it printed."""
    if signal_number == signal.SIGXCPU:  # the CPU-time limit
        return "time"
    if signal_number == signal.SIGXFSZ:
        return "file size"
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return "memory"
    if "Resource temporarily unavailable" in stderr or "BlockingIOError" in stderr:
        return "processes"
    if "File too large" in stderr:
        return "file size"
    return None


async def _read_capped(stream: asyncio.StreamReader | None, cap: int, over: asyncio.Event) -> bytes:
    if stream is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        if size < cap:
            chunks.append(chunk[: cap - size])
        size += len(chunk)
        if size > cap:
            over.set()
    return b"".join(chunks)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _remove_tree(path: Path) -> None:
    def make_writable_and_retry(_function: object, target: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, 0o700)
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    shutil.rmtree(path, onerror=make_writable_and_retry)


async def _remove_cgroup(path: Path) -> None:
    for _ in range(200):  # the kernel reaps a killed pid namespace within milliseconds
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            await asyncio.sleep(0.02)


class Sandbox:
    """Runs programs under the limits; at most `concurrency` at once. Safe to share between tasks."""

    def __init__(self, limits: SandboxLimits | None = None, *, python: str | None = None,
                 concurrency: int | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.python = python or sys.executable
        self._slots = asyncio.Semaphore(concurrency or max(1, os.cpu_count() or 1))

    async def run_python(self, code: str, *, files: Mapping[str, str] | None = None, stdin: str = "",
                         limits: SandboxLimits | None = None) -> RunResult:
        """Run `code` as a script `main.py` in a fresh working directory holding `files`."""
        return await self.run([self.python, "main.py"], files={**(files or {}), "main.py": code}, stdin=stdin,
                              limits=limits)

    async def run(self, command: Sequence[str], *, files: Mapping[str, str] | None = None, stdin: str = "",
                  limits: SandboxLimits | None = None, env: Mapping[str, str] | None = None) -> RunResult:
        isolation = require_isolation()
        limits = limits or self.limits
        async with self._slots:
            workdir = Path(tempfile.mkdtemp(prefix="clue-sandbox-"))
            cgroup: Path | None = None
            try:
                for name, content in (files or {}).items():
                    target = workdir / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(content, encoding="utf-8")
                if isolation.available and isolation.pids_cgroup is not None:
                    cgroup = isolation.pids_cgroup / f"{_CGROUP_PREFIX}{uuid.uuid4().hex}"
                    cgroup.mkdir()
                    # bwrap itself holds two processes (its monitor and the pid namespace's init).
                    (cgroup / "pids.max").write_text(str(limits.processes + 3))
                return await self._launch(isolation, command, workdir, cgroup, stdin, limits, env or {})
            finally:
                if cgroup is not None:
                    await _remove_cgroup(cgroup)
                _remove_tree(workdir)

    async def _launch(self, isolation: Isolation, command: Sequence[str], workdir: Path, cgroup: Path | None,
                      stdin: str, limits: SandboxLimits, env: Mapping[str, str]) -> RunResult:
        sandbox_env = _sandbox_env(workdir, self.python, env)
        isolated = isolation.available and isolation.bwrap is not None
        argv = _bwrap_argv(isolation.bwrap, workdir, sandbox_env, command) if isolated and isolation.bwrap \
            else list(command)
        argv[0] = shutil.which(argv[0]) or argv[0]
        rlimits = {"RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_AS": limits.memory_bytes,
                   "RLIMIT_FSIZE": limits.file_size_bytes, "RLIMIT_CORE": 0}
        config = {"cgroup": str(cgroup) if cgroup else "", "rlimits": rlimits, "argv": argv,
                  "nproc": limits.processes + 3 if cgroup is None and os.geteuid() != 0 else 0}
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(config),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env=sandbox_env,
            start_new_session=True)
        over = asyncio.Event()
        readers = asyncio.gather(_read_capped(process.stdout, limits.output_bytes, over),
                                 _read_capped(process.stderr, limits.output_bytes, over))
        timed_out = False
        try:
            if process.stdin is not None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    process.stdin.write(stdin.encode())
                    await process.stdin.drain()
                process.stdin.close()
            waiter = asyncio.ensure_future(process.wait())
            overflow = asyncio.ensure_future(over.wait())
            done, _ = await asyncio.wait({waiter, overflow}, timeout=limits.wall_seconds,
                                         return_when=asyncio.FIRST_COMPLETED)
            overflow.cancel()
            if waiter not in done:
                timed_out = not over.is_set()
                _kill_group(process.pid)
            await waiter
        finally:
            _kill_group(process.pid)
            if process.returncode is None:
                await process.wait()
        stdout, stderr = await readers
        seconds = time.monotonic() - started
        return _result(process.returncode, stdout, stderr, timed_out, over.is_set(), seconds, isolated)


def _result(returncode: int | None, stdout_bytes: bytes, stderr_bytes: bytes, timed_out: bool, overflowed: bool,
            seconds: float, isolated: bool) -> RunResult:
    stdout = stdout_bytes.decode("utf-8", errors="replace")
    stderr = stderr_bytes.decode("utf-8", errors="replace")
    if timed_out or overflowed:
        return RunResult(stdout, stderr, None, timed_out, "time" if timed_out else "output", seconds)
    assert returncode is not None
    # bwrap reports a child killed by signal N as exit status 128+N; without it the status is -N.
    signal_number = -returncode if returncode < 0 else (returncode - 128 if isolated and returncode > 128 else None)
    exit_code = 128 + signal_number if signal_number else returncode
    return RunResult(stdout, stderr, exit_code, False, _limit_from(stderr, signal_number) if exit_code else None,
                     seconds)
