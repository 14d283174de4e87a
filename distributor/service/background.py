"""A controller in the background: started detached from the terminal, and found again.

`detach` starts ``distributor resume JOURNAL`` as a new session (no controlling terminal, so
closing the terminal does not stop it) with stdin from ``/dev/null`` and its output appended
to a log file next to the journal, and returns once that process holds the journal's lock —
the same lock that keeps any second controller out. `controller_running` tells, without
touching the lock, whether some process holds it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from distributor.service.errors import JournalError

__all__ = ["controller_running", "detach", "lock_holder", "log_path"]

_STARTUP_TIMEOUT = 60.0


def log_path(journal: Path) -> Path:
    """Where a background controller of `journal` writes its output."""
    return journal.with_name(journal.name + ".log")


def _lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


def lock_holder(journal: Path) -> tuple[str, int] | None:
    """The host and pid the journal's lock file names (its last holder's), if readable."""
    try:
        text = _lock_path(journal).read_text()
    except OSError:
        return None
    fields = dict(part.partition("=")[::2] for part in text.split())
    try:
        return fields["host"], int(fields["pid"])
    except (KeyError, ValueError):
        return None


def _flock_held(path: Path) -> bool | None:
    """Whether /proc/locks lists a lock on `path` (None when it cannot be told)."""
    try:
        stat = path.stat()
        with open("/proc/locks") as locks:
            listed = locks.read().splitlines()
    except OSError:
        return None
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    return any(line.split()[1:2] == ["FLOCK"] and device in line.split() for line in listed)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def controller_running(journal: Path) -> bool:
    """Whether a controller holds `journal`'s lock now (read-only: the lock is not tried).

    The kernel's lock table answers when it can; else the last holder's pid is checked (a
    holder on another host is taken to be running).
    """
    lock = _lock_path(journal)
    if not lock.exists():
        return False
    held = _flock_held(lock)
    if held:
        return True
    holder = lock_holder(journal)
    if holder is None:
        return False
    host, pid = holder
    if host != socket.gethostname():
        return True  # the kernel here cannot see a lock taken on another host
    return held is None and _alive(pid)


def detach(journal: Path, options: Sequence[str] = ()) -> int:
    """Start ``distributor resume JOURNAL [OPTIONS]`` in the background; return its pid once it
    holds the journal (or has already finished the run).

    Raises:
        JournalError: the log file cannot be written, or the controller ended at once with a
            status other than 0 (all done) or 1 (some task did not end done).
    """
    journal = journal.absolute()
    log = log_path(journal)
    try:
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise JournalError(journal, f"cannot write the log {log}: {exc.strerror}") from exc
    silence = os.open(os.devnull, os.O_RDONLY)
    argv = [sys.executable, "-m", "distributor.cli", "resume", str(journal), *options]
    try:
        pid = os.posix_spawn(
            sys.executable,
            argv,
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            file_actions=[
                (os.POSIX_SPAWN_DUP2, silence, 0),
                (os.POSIX_SPAWN_DUP2, output, 1),
                (os.POSIX_SPAWN_DUP2, output, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(output)
        os.close(silence)
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    pause = 0.01
    while time.monotonic() < deadline:
        ended, status = os.waitpid(pid, os.WNOHANG)
        holder = lock_holder(journal)
        if holder is not None and holder[1] == pid:
            return pid
        if ended:
            code = os.waitstatus_to_exitcode(status)
            if code in (0, 1):
                return pid
            raise JournalError(journal, f"the background controller exited with status "
                                        f"{code} at once; its log: {log}")  # fmt: skip
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    return pid  # slow to start, but started: its log tells the rest
