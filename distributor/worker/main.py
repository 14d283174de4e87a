"""``distributor-worker``: run a task's command, record how it ended, exit with its status.

Usage::

    distributor-worker [--record FILE] [--task-instance-id N] [--array-id N]
                       [--batch-number N] -- COMMAND [ARG...]

``FILE`` may contain ``{step}`` and ``{id}``, replaced by ``DISTRIBUTOR_ARRAY_STEP_ID`` and
``DISTRIBUTOR_ID`` from the environment (each backend's job script exports both). Without
``--record``, ``DISTRIBUTOR_EXIT_RECORD`` is used, and with neither nothing is written.

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

from distributor.worker.proc import tree_peak_rss
from distributor.worker.record import ExitRecord, write_exit_record

__all__ = ["main", "run_wrapped"]

TRAPPED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def _wait_sampling(pid: int, holder: list[int]) -> tuple[int, resource.struct_rusage, int]:
    """Wait for `pid`, sampling its tree's peak RSS at a slowing pace (10 ms up to 1 s).

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
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
        if waited == pid:
            return status, usage, peak
        peak = max(peak, tree_peak_rss(pid))
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)


def run_wrapped(
    argv: Sequence[str],
    record_path: Path | None,
    *,
    task_instance_id: int | None = None,
) -> int:
    """Run `argv`, write the exit record to `record_path` (if given) and return the status."""
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
    started_at = time.time()
    began = time.monotonic()
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
        status, usage, sampled_peak = _wait_sampling(pid, child_pid)
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
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if record_path is not None:
        record = ExitRecord(
            returncode=returncode,
            exit_code=exit_code,
            signal=killed_by,
            signals_received=tuple(received),
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
        )
        write_exit_record(record_path, record)
    if error:
        print(f"distributor-worker: {error}", file=sys.stderr)  # the task's own stderr log
    return returncode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distributor-worker",
        description="Run a task command and record how it ended.",
    )
    parser.add_argument("--record", help="exit record path; {step} and {id} are substituted")
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
    record_path = None
    if template:
        record_path = Path(
            template.replace("{step}", os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "none")).replace(
                "{id}", os.environ.get("DISTRIBUTOR_ID", "none")
            )
        )
    return run_wrapped(command, record_path, task_instance_id=args.task_instance_id)


if __name__ == "__main__":
    raise SystemExit(main())
