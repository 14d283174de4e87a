"""The controller's side of one reaper: starting it, knowing whether it lives, its files.

A reaper (`distributor.local.reaper`) owns ``<state_dir>/reapers/<token>/``; every controller on
the state directory keeps a `ReaperView` of each, and the one that started it also holds its
wake-up pipe and its doorbell (`distributor.local.doorbell`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from distributor.exceptions import SubmissionError
from distributor.local.doorbell import Doorbell
from distributor.local.journal import Tailer
from distributor.worker.proc import process_start_time

__all__ = ["ReaperView", "spawn_reaper"]

_ALIVE_CACHE = 0.05
_IDENTITY_WAIT = 60.0  # seconds a reaper may take to record its pid before it counts as dead


class ReaperView:
    """What a controller knows of one reaper: its identity and its files' tails."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.commands = Tailer(directory / "commands.jsonl")
        self.events = Tailer(directory / "events.jsonl")
        self.identity = Tailer(directory / "reaper.jsonl")
        self.pid = 0
        self.ticks: int | None = None
        self.knock_signal = 0  # the signal that makes it read its commands, if it told us one
        self.dead = False
        self.checked_until = 0.0

    def close(self) -> None:
        """Close the tailed files."""
        for tailer in (self.commands, self.events, self.identity):
            tailer.close()

    def alive(self) -> bool:
        """True while the reaper process runs (pid and start time both match).

        A positive answer is cached for `_ALIVE_CACHE` seconds; death is final.
        """
        if self.dead:
            return False
        now = time.monotonic()
        if now < self.checked_until:
            return True
        self.checked_until = now + _ALIVE_CACHE
        for record in self.identity.read():
            self.pid, self.ticks = int(record["pid"]), record.get("ticks")
            self.knock_signal = int(record.get("knock", 0))
        if not self.pid:
            # Not yet written: a reaper writes it within milliseconds of starting.
            try:
                age = time.time() - self.directory.stat().st_mtime
            except FileNotFoundError:
                age = float("inf")
            self.dead = age > _IDENTITY_WAIT
            return not self.dead
        if process_start_time(self.pid) != self.ticks:
            self.dead = True
        return not self.dead

    def knock(self) -> None:
        """Make a reaper this controller does not own read its commands now (its owner wakes
        it through a pipe); a reaper that named no signal reads them within a second anyway."""
        if not (self.knock_signal and self.alive()):
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:  # gone, or a kernel older than 5.3
            return
        try:
            # The pidfd pins the process: once its start time matches, the signal cannot reach
            # another process that reused the pid.
            if process_start_time(self.pid) == self.ticks:
                signal.pidfd_send_signal(pidfd, self.knock_signal)
        except OSError:
            pass
        finally:
            os.close(pidfd)


def spawn_reaper(directory: Path, parallelism: int, grace: float) -> tuple[int, Doorbell]:
    """Start a detached reaper for `directory`; return the write end of its wake-up pipe (its
    stdin) and the doorbell it rings after writing events (its stdout).

    The reaper daemonizes (its launcher exits at once), so it is nobody's child here: it
    outlives this process, and no zombie or unfinished ``Popen`` is left behind.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    bell_read, bell_write = os.pipe2(os.O_CLOEXEC)
    log_fd = os.open(directory / "reaper.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        launcher = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "distributor.local.reaper", "--daemonize", str(directory),
             str(parallelism), str(grace)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_DUP2, bell_write, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )  # fmt: skip
    except BaseException:
        os.close(write_end)
        os.close(bell_read)
        raise
    finally:
        os.close(read_end)
        os.close(bell_write)
        os.close(log_fd)
    _, status = os.waitpid(launcher, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        os.close(write_end)
        os.close(bell_read)
        raise SubmissionError(f"the local reaper failed to start; see {directory / 'reaper.log'}")
    os.set_blocking(write_end, False)
    return write_end, Doorbell(bell_read)
