"""A run directory: checked before any work starts, and held by one process at a time."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clue.bench.run.files import LOCK
from clue.errors import BadInputError


class RunDirBusy(BadInputError):
    """Another process holds the run directory."""


def ensure_run_dir(out: Path, flag: str = "--out") -> Path:
    """Create `out` (and its parents) or say in one line why it cannot be a run directory."""
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{flag} {out}: is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        parent = next((p for p in out.parents if p.exists() and not p.is_dir()), out.parent)
        raise BadInputError(f"{flag} {out}: {parent} is a file, not a directory") from None
    except PermissionError:
        raise BadInputError(f"{flag} {out}: permission denied (cannot create it)") from None
    except OSError as exc:
        raise BadInputError(f"{flag} {out}: cannot create it ({exc.strerror or exc})") from None
    probe = out / ".write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
        raise BadInputError(f"{flag} {out}: not writable ({reason})") from None
    return out


class HeldLock:
    """A held run-dir lock. `announce` writes this process's PID into the lock file, for the message another
    process gets; a command that may still be refused announces only once its checks passed, so a refused
    command leaves even the lock file as it was."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def announce(self) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)


@contextmanager
def run_dir_lock(out: Path, *, announce: bool = True) -> Iterator[HeldLock]:
    """An OS-level lock (flock) on OUT/.lock for the whole run; released by the OS if the process dies."""
    path = out / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunDirBusy(f"{out}: in use by another clue process (PID {holder}); wait for it to finish "
                             "or choose another --out") from None
        held = HeldLock(fd)
        if announce:
            held.announce()
        yield held
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def lock_holder(out: Path) -> str | None:
    """The PID of the process holding OUT's lock ("unknown" if it wrote none), or None when no process holds it.
    Read-only: it creates nothing and takes the lock only for the instant of the check."""
    try:
        fd = os.open(out / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)
    return None
