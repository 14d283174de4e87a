"""What a batch scheduler says about a job (`JobStatus`), and generic exit classification.

A plugin's parsers turn scheduler output into `JobStatus` values; its state map turns a final
`JobStatus` (plus the worker's `ExitRecord`, if any) into a `RemoteExitInfo`. The helpers here
are the scheduler-independent parts of that map:

* `describe_exit` / `describe_record`: human phrases ("exited with status 3", "was killed by
  signal SIGKILL") for messages.
* `command_phrase`: how the command ended, from the worker's record if there is one, else from
  the scheduler's exit code; `peak_memory` and `killed_for_memory` (a SIGKILL at the memory
  request, which cgroup OOM kills look like when the scheduler does not name them).
* `exit_info_from_record`: the fallback used when the scheduler has no final record of a job
  but the worker wrote one.
* `limit_exit_info`: ``Z`` for a command the worker ended for exceeding its memory or runtime
  limit, whatever the scheduler says about the job.
* `exit_info_from_returncode`: ``ClusterWorkerNode.get_exit_info`` for wrapped commands.
* `usage_stats`: ``ClusterWorkerNode.get_usage_stats`` from an exit record.
"""

from __future__ import annotations

import enum
import json
import signal
from dataclasses import dataclass, replace

from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.usage import TaskUsage
from distributor.worker.record import ExitRecord

__all__ = [
    "MEMORY_KILL_FRACTION",
    "SCHEDULER_SIGNALS",
    "JobPhase",
    "JobStatus",
    "command_phrase",
    "describe_exit",
    "describe_record",
    "exit_info_from_record",
    "exit_info_from_returncode",
    "killed_for_memory",
    "limit_exit_info",
    "mebibytes",
    "peak_memory",
    "signal_name",
    "task_usage",
    "usage_from_record",
    "usage_stats",
]

SCHEDULER_SIGNALS = frozenset({"SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2", "SIGXCPU", "SIGCONT"})
"""Signals schedulers send to warn or end a job (time limit, preemption, cancellation)."""


class JobPhase(enum.Enum):
    """Where a job is in its life, as far as the scheduler says."""

    QUEUED = "queued"
    """Waiting (pending, held, requeued); it may still start."""
    RUNNING = "running"
    """Started and not finished (running, suspended, completing)."""
    FINAL = "final"
    """Ended; the state says how."""

    @property
    def active(self) -> bool:
        """True while the job is queued or running."""
        return self is not JobPhase.FINAL


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One job as one scheduler command reported it.

    Attributes:
        distributor_id: the id the distributor issued.
        phase: queued, running or final.
        state: the scheduler's own word for the state (``PENDING``, ``OUT_OF_MEMORY``).
        reason: the scheduler's reason (pending reason, ``by 1000`` for a cancellation, ...).
        exit_code: the job's exit code, if the scheduler reported one.
        signal: the number of the signal that ended the job, if reported.
        maxrss_bytes: peak resident memory, if reported.
        complete: False when a more detailed source (accounting) should be asked before
            classifying this final status (for example: killed by SIGKILL, was it memory?).
        source: which command reported it (``squeue``, ``sacct``).
        lingering: final for the distributor, but the scheduler still holds the job (an
            HTCondor job held for exceeding a limit): it is removed once settled.
        elapsed / cpu_seconds / started_at / ended_at / host: the scheduler's accounting of
            the job, where its command reports them (seconds; epoch seconds; a host name).
    """

    distributor_id: str
    phase: JobPhase
    state: str
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    maxrss_bytes: int | None = None
    complete: bool = True
    source: str = ""
    lingering: bool = False
    elapsed: float | None = None
    cpu_seconds: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    host: str | None = None


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9; ``signal 77`` for numbers without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(exit_code: int | None, signal_number: int | None) -> str:
    """A phrase for an exit: ``exited with status 3``, ``was killed by signal SIGKILL``."""
    if signal_number:
        return f"was killed by signal {signal_name(signal_number)}"
    if exit_code is not None:
        if exit_code > 128 and signal_name(exit_code - 128).startswith("SIG"):
            return (
                f"exited with status {exit_code} "
                f"(a shell's way of saying {signal_name(exit_code - 128)})"
            )
        return f"exited with status {exit_code}"
    return "ended without an exit status"


def describe_record(record: ExitRecord) -> str:
    """A phrase for what the worker recorded: how the command ended and what it received."""
    if record.error:
        text = f"could not be started ({record.error})"
    elif record.signal:
        text = f"was killed by signal {record.signal}"
    else:
        text = describe_exit(record.exit_code, None)
    if record.signals_received:
        text += f" after receiving {', '.join(record.signals_received)}"
    if record.maxrss_bytes:
        text += f"; peak memory {mebibytes(record.maxrss_bytes)}"
    return text


def command_phrase(status: JobStatus, record: ExitRecord | None) -> str:
    """How the command ended, for a state map's message.

    The worker's record wins (``the command could not be started (...)``, ``the command was
    killed by signal SIGKILL``, ``the command exited with status 3``); without one, the
    scheduler's exit code and signal (``the job exited with status 137 ...``), or ``no exit
    status was recorded (it may never have started)`` when the scheduler reported neither.
    """
    if record is not None:
        if record.error:
            return f"the command could not be started ({record.error})"
        if record.signal:
            return f"the command was killed by signal {record.signal}"
        return f"the command {describe_exit(record.exit_code, None)}"
    if status.exit_code is None and not status.signal:
        return "no exit status was recorded (it may never have started)"
    return f"the job {describe_exit(status.exit_code, status.signal)}"


MEMORY_KILL_FRACTION = 0.9
"""A SIGKILLed job whose peak memory reached this share of its request was killed for memory
(sampled peaks lag the real one)."""


def peak_memory(status: JobStatus, record: ExitRecord | None) -> int | None:
    """The larger of the scheduler's and the worker's peak memory in bytes; None if neither."""
    peaks = [p for p in (status.maxrss_bytes, record.maxrss_bytes if record else None) if p]
    return max(peaks) if peaks else None


def killed_for_memory(
    status: JobStatus,
    record: ExitRecord | None,
    memory_bytes: int | None,
    *,
    fraction: float = MEMORY_KILL_FRACTION,
) -> bool:
    """Whether a job looks killed for memory although the scheduler did not say so: SIGKILL
    (signal 9, exit status 137, or the record's ``SIGKILL``) with a peak of at least `fraction`
    of the requested `memory_bytes`."""
    sigkill = (
        status.signal == 9
        or status.exit_code == 128 + 9
        or (record is not None and record.signal == "SIGKILL")
    )
    peak = peak_memory(status, record)
    return bool(sigkill and memory_bytes and peak is not None and peak >= fraction * memory_bytes)


def mebibytes(amount: int) -> str:
    """Render bytes for a message in MiB with one decimal: ``200.0 MiB``."""
    return f"{amount / 2**20:.1f} MiB"


def limit_exit_info(record: ExitRecord) -> RemoteExitInfo | None:
    """``Z`` for a command the worker ended for exceeding a limit (`ExitRecord.exceeded`),
    with the limit and the overrun; None if it did not."""
    if record.exceeded == "memory":
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"memory limit of {mebibytes(int(record.limit))} exceeded: process tree resident "
            f"{mebibytes(int(record.used))}, {mebibytes(int(record.used - record.limit))} over; "
            "killed with SIGKILL by distributor-worker",
        )
    if record.exceeded == "runtime":
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"runtime limit of {record.limit:g}s exceeded: ran {record.used:.1f}s; stopped with "
            f"SIGTERM by distributor-worker (the command {describe_record(record)})",
        )
    return None


def exit_info_from_record(record: ExitRecord, *, terminated: bool = False) -> RemoteExitInfo:
    """Classify a job from the worker's record alone (the scheduler has no final state).

    Success is ``D`` only when the command itself exited 0. A command that received one of
    `SCHEDULER_SIGNALS` ended because of the scheduler (limit, preemption, cancellation), which
    the record cannot tell apart: ``U``. Terminated on request: ``K``.
    """
    what = describe_record(record)
    if terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF, f"terminated on request; the command {what}"
        )
    limited = limit_exit_info(record)
    if limited is not None:
        return limited
    if record.returncode == 0 and not record.error:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    source = "(from the worker's exit record; the scheduler kept no final state)"
    if set(record.signals_received) & SCHEDULER_SIGNALS:
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            f"the command {what}: the scheduler ended it (time limit, preemption or "
            f"cancellation) {source}",
        )
    return RemoteExitInfo(TaskInstanceStatus.ERROR, f"the command {what} {source}")


def exit_info_from_returncode(exit_code: int, error_msg: str) -> tuple[str, str]:
    """Implement ``ClusterWorkerNode.get_exit_info`` for a wrapped command's exit status."""
    if exit_code == 0:
        return TaskInstanceStatus.DONE.value, ""
    if exit_code > 128:
        phrase = f"was killed by signal {signal_name(exit_code - 128)} (status {exit_code})"
    else:
        phrase = f"exited with status {exit_code}"
    detail = f": {error_msg}" if error_msg else ""
    return TaskInstanceStatus.ERROR.value, f"the command {phrase}{detail}"


def usage_from_record(record: ExitRecord) -> TaskUsage:
    """What the worker recorded: the command's own exit code or signal, its times, the peak
    memory of its tree, its CPU and the host."""
    return TaskUsage(
        exit_code=record.exit_code,
        signal=record.signal,
        started_at=record.started_at or None,
        ended_at=record.ended_at or None,
        elapsed=record.wall_seconds if record.started_at else None,
        max_rss=record.maxrss_bytes or None,
        cpu=record.cpu_seconds if record.started_at else None,
        host=record.hostname or None,
    )


def task_usage(status: JobStatus | None, record: ExitRecord | None) -> TaskUsage | None:
    """A finished job's figures: the scheduler's accounting where it has them (peak memory,
    elapsed, CPU, times, host), the worker's record otherwise; the exit code and signal are
    the command's own from the record (the scheduler's are the job script's), else the
    scheduler's. None when neither source knows anything."""
    from_record = usage_from_record(record) if record is not None else TaskUsage()
    if status is None or status.phase.active:
        return from_record if record is not None else None
    accounting = TaskUsage(
        started_at=status.started_at,
        ended_at=status.ended_at,
        elapsed=status.elapsed,
        max_rss=status.maxrss_bytes,
        cpu=status.cpu_seconds,
        host=status.host,
    )
    merged = from_record.merged(accounting)
    if record is None:
        signal_text = signal_name(status.signal) if status.signal else None
        merged = replace(merged, exit_code=status.exit_code, signal=signal_text)
    return merged if merged != TaskUsage() else None


def usage_stats(record: ExitRecord) -> dict[str, str]:
    """Implement ``ClusterWorkerNode.get_usage_stats`` from an exit record."""
    raw = {
        "maxrss_bytes": record.maxrss_bytes,
        "cpu_seconds": record.cpu_seconds,
        "wall_seconds": record.wall_seconds,
        "hostname": record.hostname,
    }
    return {
        "maxrss": str(record.maxrss_bytes),
        "cpu": f"{record.cpu_seconds:.3f}",
        "wall": f"{record.wall_seconds:.3f}",
        "usage_str": json.dumps(raw, sort_keys=True),
    }
