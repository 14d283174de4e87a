"""``distributor-worker``: run a task's command, record how it ended, exit with its status.

Usage::

    distributor-worker [--record FILE] [--started FILE] [--memory-limit BYTES]
                       [--runtime-limit SECONDS] [--kill-grace SECONDS]
                       [--task-instance-id N] [--array-id N] [--batch-number N]
                       -- COMMAND [ARG...]

``FILE`` may contain ``{step}`` and ``{id}``, replaced by ``DISTRIBUTOR_ARRAY_STEP_ID`` and
``DISTRIBUTOR_ID`` from the environment (each backend's job script exports both). Without
``--record``, ``DISTRIBUTOR_EXIT_RECORD`` is used, and with neither nothing is written.
``--started`` names a `StartRecord` written before the command starts.

Limits are enforced on the command's whole process tree, whatever the scheduler does (some
enforce nothing without cgroups): resident memory over ``--memory-limit`` is killed with
SIGKILL at once; a command still running ``--runtime-limit`` seconds after it started gets
SIGTERM, and SIGKILL ``--kill-grace`` seconds (default 10) later. The exit record says which
limit was exceeded (`ExitRecord.exceeded`) and by how much.

SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 are trapped and recorded, so the wrapper lives to write
the record; SIGTERM and SIGINT are also passed on to the command (Slurm signals only the job
script), SIGUSR1/SIGUSR2 are not (schedulers that use them signal the whole job).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from distributor.worker.proc import descendants, tree_peak_rss, tree_rss
from distributor.worker.record import (
    ExitRecord,
    StartRecord,
    write_exit_record,
    write_start_record,
)

__all__ = ["main", "run_wrapped"]

TRAPPED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


MEMORY_SAMPLE_INTERVAL = 0.25
"""Longest pause between two memory samples while a memory limit is enforced (seconds)."""


def _signal_tree(pid: int, signum: int) -> None:
    """Send `signum` to `pid`'s descendants and to `pid` (not a process group: schedulers kill
    jobs by theirs, so the command must stay in the job's group)."""
    for member in reversed(list(descendants(pid))):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signum)


class _Limits:
    """The limits one run enforces and what happened to them."""

    def __init__(self, memory: int | None, runtime: float | None, grace: float) -> None:
        self.memory = memory
        self.runtime = runtime
        self.grace = grace
        self.exceeded = ""
        self.limit = 0.0
        self.used = 0.0
        self.kill_at: float | None = None  # monotonic time of the SIGKILL after a SIGTERM

    def check(self, pid: int, began: float) -> None:
        """Enforce the limits on `pid`'s tree once (called between samples)."""
        now = time.monotonic()
        if self.kill_at is not None:
            if now >= self.kill_at:
                _signal_tree(pid, signal.SIGKILL)
            return
        if self.memory is not None and not self.exceeded:
            rss = tree_rss(pid)
            if rss > self.memory:
                self.exceeded, self.limit, self.used = "memory", float(self.memory), float(rss)
                _signal_tree(pid, signal.SIGKILL)
                return
        if self.runtime is not None and not self.exceeded and now - began >= self.runtime:
            self.exceeded, self.limit, self.used = "runtime", self.runtime, now - began
            _signal_tree(pid, signal.SIGTERM)
            self.kill_at = now + self.grace

    def next_pause(self, interval: float, began: float) -> float:
        """How long to sleep before the next check."""
        now = time.monotonic()
        pause = interval
        if self.memory is not None:
            pause = min(pause, MEMORY_SAMPLE_INTERVAL)
        if self.kill_at is not None:
            pause = min(pause, max(0.0, self.kill_at - now))
        elif self.runtime is not None and not self.exceeded:
            pause = min(pause, max(0.0, began + self.runtime - now))
        return max(pause, 0.001)


def _wait_sampling(
    pid: int, holder: list[int], limits: _Limits, began: float
) -> tuple[int, resource.struct_rusage, int]:
    """Wait for `pid`, sampling its tree's peak RSS at a slowing pace (10 ms up to 1 s) and
    enforcing `limits` between samples.

    Forwarded signals are blocked around each reaping ``wait4`` and `holder` is cleared in
    that window, so a signal handler never targets the pid after it could be reused.
    """
    interval = 0.01
    peak = 0
    forwarded = {signal.SIGTERM, signal.SIGINT}
    while True:
        signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)
        try:
            waited, status, usage = os.wait4(pid, os.WNOHANG)
            if waited == pid:
                holder[0] = 0
            else:
                limits.check(pid, began)  # the pid cannot be reused before we reap it
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
        if waited == pid:
            return status, usage, peak
        peak = max(peak, tree_peak_rss(pid))
        time.sleep(limits.next_pause(interval, began))
        interval = min(interval * 1.5, 1.0)


def run_wrapped(
    argv: Sequence[str],
    record_path: Path | None,
    *,
    task_instance_id: int | None = None,
    started_path: Path | None = None,
    memory_limit: int | None = None,
    runtime_limit: float | None = None,
    kill_grace: float = 10.0,
) -> int:
    """Run `argv` under the limits, write the start record to `started_path` and the exit
    record to `record_path` (each if given) and return the wrapper's exit status."""
    received: list[str] = []
    child_pid = [0]  # set once the command runs

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        # Some schedulers (Slurm's scancel and time limit) signal only the job script, i.e.
        # us: pass SIGTERM/SIGINT on so the command can stop cleanly before SIGKILL. A
        # command that the scheduler signalled directly as well gets it twice.
        if child_pid[0] and signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid[0], signum)

    previous = {sig: signal.signal(sig, note) for sig in TRAPPED}
    limits = _Limits(memory_limit, runtime_limit, kill_grace)
    started_at = time.time()
    began = time.monotonic()
    if started_path is not None:
        write_start_record(
            started_path,
            StartRecord(
                distributor_id=os.environ.get("DISTRIBUTOR_ID"),
                array_step_id=_int_env("DISTRIBUTOR_ARRAY_STEP_ID"),
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=started_at,
            ),
        )
    try:
        returncode = _run_and_record(argv, record_path, task_instance_id, limits,
                                     started_at, began, received, child_pid)  # fmt: skip
    finally:
        # Only now: a SIGTERM between the command's end and the written record (a scheduler
        # following its kill sequence) must not kill the wrapper before it has said how the
        # command ended.
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return returncode


def _run_and_record(
    argv: Sequence[str],
    record_path: Path | None,
    task_instance_id: int | None,
    limits: _Limits,
    started_at: float,
    began: float,
    received: list[str],
    child_pid: list[int],
) -> int:
    """Run the command, then write its exit record; the caller's handlers stay installed."""
    exit_code: int | None = None
    killed_by: str | None = None
    maxrss = 0
    cpu = 0.0
    error = ""
    pid = 0
    try:
        child = subprocess.Popen(list(argv), restore_signals=True)
    except OSError as exc:
        error = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
        returncode = 127
    else:
        pid = child_pid[0] = child.pid
        # A SIGTERM/SIGINT that arrived before the command existed reached only us: pass it on.
        for name in dict.fromkeys(received):
            if name in ("SIGTERM", "SIGINT"):
                child.send_signal(signal.Signals[name])
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        status, usage, sampled_peak = _wait_sampling(pid, child_pid, limits, began)
        child.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
        maxrss = usage.ru_maxrss * 1024  # Linux reports KiB
        if maxrss <= own_peak:  # inherited from this wrapper at spawn: use the sampled peak
            maxrss = sampled_peak
        cpu = usage.ru_utime + usage.ru_stime
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            killed_by = signal.Signals(signum).name
            returncode = 128 + signum
        else:
            exit_code = os.WEXITSTATUS(status)
            returncode = exit_code
    signals_received = tuple(received)  # while the command ran, not while we write
    if record_path is not None:
        record = ExitRecord(
            returncode=returncode,
            exit_code=exit_code,
            signal=killed_by,
            signals_received=signals_received,
            maxrss_bytes=maxrss,
            cpu_seconds=round(cpu, 6),
            wall_seconds=round(time.monotonic() - began, 6),
            started_at=started_at,
            ended_at=time.time(),
            hostname=socket.gethostname(),
            pid=pid,
            distributor_id=os.environ.get("DISTRIBUTOR_ID"),
            array_step_id=_int_env("DISTRIBUTOR_ARRAY_STEP_ID"),
            task_instance_id=task_instance_id,
            error=error,
            exceeded=limits.exceeded,
            limit=limits.limit,
            used=round(limits.used, 6),
        )
        write_exit_record(record_path, record)
    if error:
        print(f"distributor-worker: {error}", file=sys.stderr)  # the task's own stderr log
    if limits.exceeded:
        print(f"distributor-worker: {_limit_message(limits)}", file=sys.stderr)
    return returncode


def _limit_message(limits: _Limits) -> str:
    if limits.exceeded == "memory":
        return (
            f"memory limit of {limits.limit / 2**20:.1f} MiB exceeded (process tree resident "
            f"{limits.used / 2**20:.1f} MiB); killed with SIGKILL"
        )
    return f"runtime limit of {limits.limit:g}s exceeded; stopped with SIGTERM"


def _expand(template: str) -> Path:
    return Path(
        template.replace("{step}", os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "none")).replace(
            "{id}", os.environ.get("DISTRIBUTOR_ID", "none")
        )
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distributor-worker",
        description="Run a task command and record how it ended.",
    )
    parser.add_argument("--record", help="exit record path; {step} and {id} are substituted")
    parser.add_argument("--started", help="start record path; {step} and {id} are substituted")
    parser.add_argument(
        "--memory-limit", type=_positive_int, help="bytes of resident memory for the tree"
    )
    parser.add_argument("--runtime-limit", type=_positive_float, help="seconds the command may run")
    parser.add_argument(
        "--kill-grace",
        type=_positive_float,
        default=10.0,
        help="seconds between SIGTERM and SIGKILL at the runtime limit (default 10)",
    )
    parser.add_argument("--task-instance-id", type=int)
    parser.add_argument("--array-id", type=int)
    parser.add_argument("--batch-number", type=int)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``distributor-worker`` console script."""
    args = _parser().parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        _parser().error("no command given (put it after --)")
    template = args.record or os.environ.get("DISTRIBUTOR_EXIT_RECORD")
    return run_wrapped(
        command,
        _expand(template) if template else None,
        task_instance_id=args.task_instance_id,
        started_path=_expand(args.started) if args.started else None,
        memory_limit=args.memory_limit,
        runtime_limit=args.runtime_limit,
        kill_grace=args.kill_grace,
    )


if __name__ == "__main__":
    raise SystemExit(main())
