"""The reaper: the long-lived parent of every local task (``python -m distributor.local.reaper``).

One reaper per `LocalDistributor.start`. It reads commands from ``commands.jsonl`` (woken by a
byte on its stdin from the controller that owns it), starts tasks in their own sessions while
free slots allow, enforces runtime and memory limits, and appends ``started``/``exited`` events,
ringing the controller's doorbell (its stdout, `distributor.local.doorbell`) after each batch:
a task's end reaches the controller within milliseconds of its exit, without polling. Other
controllers (after the owner's death) append commands too, and wake it with the signal named in
``reaper.jsonl``; an idle reaper otherwise sleeps.
It outlives its controller: when stdin reaches end of file (controller stopped or killed) it
finishes every queued and running task, then exits.

One thread does everything but create log files: those are made ahead of launch on a helper
thread (a create costs 20–140 µs on a journal-less ext4, up to half the cost of starting a small
task). Launcher threads that each spawn and wait were measured and were slower here: GIL
hand-offs cost more than they save. A task's `started` event is written a few milliseconds after
its spawn (see `Reaper.announce`), never between spawn and ``execve``'s end.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import resource
import select
import shutil
import signal
import stat
import string
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor.local.doorbell import ring
from distributor.local.journal import Appender, Tailer
from distributor.worker.proc import process_start_time, tree_peak_rss, tree_rss

__all__ = ["direct_argv", "main"]

# Seconds between looks at commands.jsonl when nothing wakes us: a safety net only, since every
# writer of commands wakes the reaper (its owner through stdin, other controllers by `_KNOCK`).
_IDLE_POLL = 1.0
_KNOCK = signal.SIGUSR1
_MEMORY_POLL = 0.2  # seconds between memory samples of limited tasks
# A `started` event waits this long after the spawn: reading /proc/<pid>/stat blocks until the
# child's execve finishes, and a task that ends sooner needs only its `exited` event.
_ANNOUNCE_AFTER = 0.005
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
# Python ignores SIGPIPE and SIGXFSZ; tasks must start with every signal at its default.
_DEFAULTED = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)


@dataclass
class _Task:
    id: str
    command: str
    env: dict[str, str]
    cwd: str | None
    stdout: str
    stderr: str
    slots: int
    memory: int | None
    runtime: int | None
    pid: int = 0
    started: float = 0.0
    deadline: float | None = None
    kill_at: float | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    peak: int = 0
    logs: Future[tuple[int, int]] | None = None


def _open_logs(stdout: str, stderr: str) -> tuple[int, int]:
    """Create a task's log file(s); the same descriptor twice when both streams share one."""
    out_fd = os.open(stdout, _LOG_FLAGS, 0o644)
    if stderr == stdout:
        return out_fd, out_fd
    try:
        return out_fd, os.open(stderr, _LOG_FLAGS, 0o644)
    except OSError:
        os.close(out_fd)
        raise


def _close_logs(out_fd: int, err_fd: int) -> None:
    os.close(out_fd)
    if err_fd != out_fd:
        os.close(err_fd)


def _argv(task: _Task, env: dict[str, str]) -> list[str]:
    if task.cwd:
        # posix_spawn has no chdir action before Python 3.13: let sh change directory.
        return ["/bin/sh", "-c", 'cd -- "$1" && exec /bin/sh -c "$2"', "sh", task.cwd,
                task.command]  # fmt: skip
    return direct_argv(task.command, env.get("PATH", os.defpath)) or [
        "/bin/sh", "-c", task.command
    ]  # fmt: skip


class _LogOpener:
    """Creates log files for queued tasks on a helper thread, ahead of their launch.

    At most `window` descriptors are held open in advance.
    """

    def __init__(self, window: int = 256) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="log-opener")
        self.window = window
        self.ahead = 0

    def prefetch(self, tasks: deque[_Task]) -> None:
        if self.ahead > self.window // 2:
            return
        for task in itertools.islice(tasks, self.window):
            if self.ahead >= self.window:
                return
            if task.logs is None and not task.reason:
                task.logs = self.pool.submit(_open_logs, task.stdout, task.stderr)
                self.ahead += 1

    def take(self, task: _Task) -> tuple[int, int]:
        if task.logs is None:
            return _open_logs(task.stdout, task.stderr)
        future, task.logs = task.logs, None
        self.ahead -= 1
        return future.result()

    def discard(self, task: _Task) -> None:
        if task.logs is not None:
            with contextlib.suppress(OSError):
                _close_logs(*self.take(task))

    def shutdown(self) -> None:
        self.pool.shutdown()


class Reaper:
    """State and main loop of one reaper process."""

    def __init__(self, directory: Path, parallelism: int, grace: float, doorbell: int = -1) -> None:
        self.directory = directory
        self.doorbell = doorbell  # -1: nobody to tell
        self.parallelism = parallelism
        self.grace = grace
        self.commands = Tailer(directory / "commands.jsonl")
        self.events = Appender(directory / "events.jsonl")
        self.queue: deque[_Task] = deque()
        self.running: dict[int, _Task] = {}
        self.by_id: dict[str, _Task] = {}  # queued and running tasks only: memory stays flat
        self.unannounced: deque[_Task] = deque()  # spawned, `started` not yet written
        self.busy = 0
        self.owner_open = True
        self.out: list[dict[str, Any]] = []
        self.next_memory_check = 0.0
        self.base_env = dict(os.environ)
        self.own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.opener = _LogOpener()

    def run(self, wake_fd: int) -> None:
        """Serve until the owner has gone and no task is queued or running."""
        # A child's exit (or a knock, handled since `main`) writes a byte to `child_r`, so
        # select() wakes at once.
        child_r, child_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(child_w)
        while True:
            self.read_commands()
            self.reap()
            self.announce()
            self.launch()
            self.enforce()
            self.flush()
            if not (self.owner_open or self.queue or self.running):
                break
            fds = [child_r, wake_fd] if self.owner_open else [child_r]
            ready, _, _ = select.select(fds, [], [], self.next_timeout())
            if child_r in ready:
                _drain(child_r)
            if wake_fd in ready:
                try:
                    if not os.read(wake_fd, 65536):
                        self.owner_open = False
                except BlockingIOError:
                    pass
        self.opener.shutdown()
        self.read_commands()
        self.flush()

    def next_timeout(self) -> float:
        now = time.monotonic()
        timeout = _IDLE_POLL
        if self.unannounced:
            timeout = max(0.0, self.unannounced[0].started + _ANNOUNCE_AFTER - now)
        for task in self.running.values():
            for moment in (task.deadline, task.kill_at):
                if moment is not None:
                    timeout = min(timeout, max(0.0, moment - now))
            if task.memory is not None:
                timeout = min(timeout, max(0.0, self.next_memory_check - now))
        return timeout

    def read_commands(self) -> None:
        for command in self.commands.read():
            op = command.get("op")
            if op == "submit":
                task = _Task(
                    id=command["id"],
                    command=command["command"],
                    env=command.get("env", {}),
                    cwd=command.get("cwd"),
                    stdout=command["stdout"],
                    stderr=command["stderr"],
                    slots=max(1, min(int(command.get("slots", 1)), self.parallelism)),
                    memory=command.get("memory"),
                    runtime=command.get("runtime"),
                )
                self.by_id[task.id] = task
                self.queue.append(task)
            elif op == "terminate":
                for task_id in command.get("ids", []):
                    self.terminate(task_id)

    def terminate(self, task_id: str) -> None:
        task = self.by_id.get(task_id)
        if task is None:
            return  # ended already: a terminate line always follows its task's submit line
        if task.reason:
            return
        if task.pid == 0:
            self.finish_unstarted(task)  # left in the queue, skipped by `launch`: O(1)
        else:
            task.reason = "terminated"
            self.signal_group(task, signal.SIGTERM)
            task.kill_at = time.monotonic() + self.grace

    def finish_unstarted(self, task: _Task) -> None:
        self.opener.discard(task)
        self.by_id.pop(task.id, None)
        task.reason = "terminated"
        self.out.append({"ev": "exited", "id": task.id, "status": None, "reason": "terminated",
                         "started": False, "t": time.time()})  # fmt: skip

    def launch(self) -> None:
        self.opener.prefetch(self.queue)  # skips tasks terminated while queued
        while self.queue:
            task = self.queue[0]
            if task.reason:  # terminated while queued: its `exited` event is written
                self.queue.popleft()
                continue
            if self.busy + task.slots > self.parallelism:
                break
            self.queue.popleft()
            env = {**self.base_env, **task.env}
            try:
                out_fd, err_fd = self.opener.take(task)
            except OSError as exc:
                self.spawn_failed(task, f"cannot open log: {exc}")
                continue
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, err_fd, 2),
            ]
            argv = _argv(task, env)
            try:
                pid = os.posix_spawn(
                    argv[0], argv, env, file_actions=actions, setsid=True, setsigdef=_DEFAULTED
                )
            except OSError as exc:
                self.spawn_failed(task, str(exc))
                continue
            finally:
                _close_logs(out_fd, err_fd)
            task.pid = pid
            task.started = time.monotonic()
            if task.runtime is not None:
                task.deadline = task.started + task.runtime
            self.running[pid] = task
            self.busy += task.slots
            self.unannounced.append(task)

    def announce(self) -> None:
        """Write `started` for tasks spawned at least `_ANNOUNCE_AFTER` ago and not yet reaped.

        The start time is read while the task is unreaped (a zombie at worst), so its pid cannot
        have been reused. Reaped tasks are skipped: their `exited` event says all.
        """
        now = time.monotonic()
        while self.unannounced:
            task = self.unannounced[0]
            unreaped = self.running.get(task.pid) is task
            if unreaped and now - task.started < _ANNOUNCE_AFTER:
                return
            self.unannounced.popleft()
            if unreaped:
                self.out.append({"ev": "started", "id": task.id, "pid": task.pid,
                                 "ticks": process_start_time(task.pid),
                                 "t": time.time()})  # fmt: skip

    def spawn_failed(self, task: _Task, error: str) -> None:
        self.by_id.pop(task.id, None)
        self.out.append({"ev": "exited", "id": task.id, "status": None, "reason": "spawn_failed",
                         "error": error, "started": False, "t": time.time()})  # fmt: skip

    def reap(self) -> None:
        # A child spawned with vfork semantics starts on this process's memory: wait4's peak
        # for it is this process's peak at the spawn, which grows as the reaper tracks more.
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.own_peak = max(self.own_peak, own_peak)
        while self.running:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            task = self.running.pop(pid, None)
            if task is None:
                continue
            self.by_id.pop(task.id, None)
            self.busy -= task.slots
            maxrss = usage.ru_maxrss * 1024
            if maxrss <= self.own_peak:  # inherited from this process at spawn time
                maxrss = task.peak
            record: dict[str, Any] = {
                "ev": "exited", "id": task.id, "status": status, "reason": task.reason,
                "maxrss": maxrss, "cpu": round(usage.ru_utime + usage.ru_stime, 6),
                "wall": round(time.monotonic() - task.started, 6), "started": True,
                "t": time.time(),
            }  # fmt: skip
            record.update(task.detail)
            self.out.append(record)

    def enforce(self) -> None:
        now = time.monotonic()
        check_memory = now >= self.next_memory_check
        if check_memory:
            self.next_memory_check = now + _MEMORY_POLL
        for task in list(self.running.values()):
            if task.kill_at is not None and now >= task.kill_at:
                self.signal_group(task, signal.SIGKILL)
                task.kill_at = None
            if task.reason:
                continue
            if task.deadline is not None and now >= task.deadline:
                task.reason = "runtime"
                task.detail = {"limit": task.runtime, "used": round(now - task.started, 3)}
                self.signal_group(task, signal.SIGTERM)
                task.kill_at = now + self.grace
            elif task.memory is not None and check_memory:
                rss = tree_rss(task.pid)
                task.peak = max(task.peak, tree_peak_rss(task.pid))
                if rss > task.memory:
                    task.reason = "memory"
                    task.detail = {"limit": task.memory, "used": rss}
                    self.signal_group(task, signal.SIGKILL)

    @staticmethod
    def signal_group(task: _Task, signum: int) -> None:
        """Signal the task's process group; only running (unreaped) tasks are signalled, so
        the pid, which is also the session and group id, cannot have been reused."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(task.pid, signum)

    def flush(self) -> None:
        if self.out:
            self.events.write(self.out)
            self.out = []
            if self.doorbell >= 0 and not ring(self.doorbell):
                os.close(self.doorbell)  # the controller has gone: nobody to tell any more
                self.doorbell = -1


_PLAIN = frozenset(string.ascii_letters + string.digits + "-_./=:,+@% \t")
_SH_BUILTINS = frozenset(
    "alias bg break cd command continue echo eval exec exit export false fc fg "  # noqa: SIM905
    "getopts hash jobs kill local printf pwd read readonly return set shift test [ times trap "
    "true type ulimit umask unalias unset wait".split()  # a word list reads better as one string
)


@functools.lru_cache(maxsize=1024)
def direct_argv(command: str, path: str) -> list[str] | None:
    """The argv to exec `command` without a shell, or None when only ``sh -c`` means the same.

    A command qualifies when it is plain words (no quoting, expansion, redirection, globbing or
    control characters), its first word is no shell builtin and no variable assignment, and it
    resolves on `path`. Skipping the shell halves the cost of starting a small task.
    """
    if not command or not set(command) <= _PLAIN:
        return None
    words = command.split()
    if not words or words[0] in _SH_BUILTINS or "=" in words[0]:
        return None
    program = shutil.which(words[0], path=path)
    if program is None:
        return None
    return [program, *words[1:]]  # callers must copy before mutating: the result is cached


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m distributor.local.reaper [--daemonize] DIRECTORY PARALLELISM GRACE``.

    Standard input is the owner's wake-up pipe; standard output, when it is a pipe, is the
    owner's doorbell (`distributor.local.doorbell`). With ``--daemonize`` the process forks and
    the parent exits at once, so the reaper is re-parented away from the controller.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--daemonize"]:
        args = args[1:]
        if os.fork() != 0:
            os._exit(0)
    directory, parallelism, grace = Path(args[0]), int(args[1]), float(args[2])
    # The knock must be handled before anyone can learn our pid: its default action kills.
    signal.signal(_KNOCK, lambda *_: None)
    identity = {"pid": os.getpid(), "ticks": process_start_time(os.getpid()), "knock": int(_KNOCK)}
    Appender(directory / "reaper.jsonl").write([identity])
    os.set_blocking(0, False)
    Reaper(directory, parallelism, grace, _take_doorbell()).run(0)
    return 0


def _take_doorbell() -> int:
    """Move a doorbell pipe off standard output (to a close-on-exec descriptor, so no task
    inherits it) and put ``/dev/null`` there; -1 if stdout is no pipe."""
    try:
        if not stat.S_ISFIFO(os.fstat(1).st_mode):
            return -1
    except OSError:
        return -1
    doorbell = os.dup(1)  # Python's dup is close-on-exec
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    os.set_blocking(doorbell, False)
    return doorbell


if __name__ == "__main__":
    raise SystemExit(main())
