"""The Grid Engine state map: qstat state letters → phases, accounting records → exit info.

qstat shows only jobs that have not ended (a job leaves it the moment it ends), so every final
answer comes from ``qacct``. Exit states as observed on Son of Grid Engine 8.1.9 (the dev cell):

=========================================== ===== =============================================
qacct                                       code  notes
=========================================== ===== =============================================
failed 0, exit_status 0                     D     unless it has the signature of ``qdel -f``
                                                  (no usage, no worker record): then ``U``
failed 0, exit_status N                     E     the command's status (the worker exits with
                                                  it); ``Z`` if an allocation failed under the
                                                  ``h_vmem`` limit (see below)
failed 37 (qmaster enforced h_rt/h_vmem)    Z     exit_status 137; runtime or memory, told
                                                  apart by ``ru_wallclock``/``maxvmem``
failed 100 (assumedly after job)            K     the job was killed by a signal from outside
                                                  (``qdel`` by someone else): 128+signal
failed 1-36, 38 (shepherd failures)         U     could not start or finish on the host
                                                  (output file, working directory, prolog...;
                                                  19 after the host lost the running job)
any, after `terminate_task_instances`       K     unless it had already succeeded
=========================================== ===== =============================================

**h_vmem is not a kill.** Grid Engine sets the request as ``RLIMIT_AS``: allocations beyond it
fail and the program usually exits 1 (Python's ``MemoryError``). Such an exit is ``Z`` when a
memory request is known and either the peak (``maxvmem``, ``ru_maxrss`` or the worker's figure)
reached `MEMORY_FRACTION` of it, or the tail of the job's stderr shows an allocation failure.
"""

from __future__ import annotations

import re

from distributor import RemoteExitInfo, TaskInstanceStatus, format_seconds
from distributor.batch import (
    JobPhase,
    JobStatus,
    TrackedJob,
    describe_exit,
    describe_record,
    mebibytes,
    peak_memory,
)
from distributor.worker import ExitRecord
from distributor_sge.accounting import SgeJobStatus

__all__ = [
    "ALLOCATION_FAILURE",
    "FAILED_CODES",
    "MEMORY_FRACTION",
    "classify",
    "is_error_state",
    "phase_of",
]

MEMORY_FRACTION = 0.9
"""A failed job whose peak memory reached this share of its request ran out of memory
(peaks are sampled about once a second, so they lag the real one)."""

ALLOCATION_FAILURE = re.compile(
    r"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory|memory exhausted|"
    r"OutOfMemoryError",
    re.IGNORECASE,
)
"""What programs print when an allocation fails under an address-space limit."""

FAILED_CODES: dict[int, str] = {
    1: "assumedly before job",
    3: "before writing the configuration",
    4: "before writing the PID file",
    5: "on reading the configuration file",
    6: "setting up the processor set",
    7: "before the prolog",
    8: "in the prolog",
    9: "before starting the parallel environment",
    10: "in starting the parallel environment",
    11: "before the job",
    12: "before stopping the parallel environment",
    13: "in stopping the parallel environment",
    14: "before the epilog",
    15: "in the epilog",
    16: "releasing the processor set",
    17: "through a signal",
    18: "the shepherd returned an error",
    19: "before writing the exit status",  # also: the host crashed or lost the job
    20: "found an unexpected error file",
    21: "in recognizing the job",
    24: "migrating (checkpointing)",
    25: "rescheduling",
    26: "opening an input/output file",
    27: "searching the requested shell",
    28: "changing to the working directory",
    29: "AFS setup",
    30: "application error returned",
    31: "accessing the sgepasswd file",
    32: "an entry is missing in the password file",
    33: "wrong password",
    34: "communicating with the Grid Engine Helper Service",
    35: "before the job in the Grid Engine Helper Service",
    36: "checking the configured daemons",
    37: "qmaster enforced h_rt, h_cpu or h_vmem limit",
    38: "adding a supplementary group",
    100: "assumedly after job",
}
"""qacct's ``failed`` codes (sge_status(5) of Son of Grid Engine) in words."""

_RUNNING_LETTERS = frozenset("rtsST")


def phase_of(state: str) -> JobPhase:
    """The phase of qstat's state letters.

    ``E`` (error) is queued: the job stays until it is deleted or its error cleared. Any of
    ``r t s S T`` (running, transferring, suspended) is running. Everything else (``qw``,
    ``hqw``, ``Rq``, unknown letters) is queued: a job qstat still lists has not ended.
    """
    if "E" in state:
        return JobPhase.QUEUED
    if _RUNNING_LETTERS & set(state):
        return JobPhase.RUNNING
    return JobPhase.QUEUED


def is_error_state(state: str) -> bool:
    """True for qstat states that never clear by themselves (``Eqw``, ``Ehqw``)."""
    return "E" in state


def _detail(status: JobStatus) -> str:
    failed = status.failed if isinstance(status, SgeJobStatus) else 0
    reason = f" : {status.reason}" if status.reason else ""
    code = f", exit_status {status.exit_code}" if status.exit_code is not None else ""
    return f"(Grid Engine: failed {failed}{reason}{code})"


def _what(status: JobStatus, record: ExitRecord | None) -> str:
    """How the command ended, preferring the worker's record to Grid Engine's exit status."""
    if record is not None:
        return f"the command {describe_record(record)}"
    failed = status.failed if isinstance(status, SgeJobStatus) else 0
    if failed not in (0, 37, 100):
        words = FAILED_CODES.get(failed, status.reason or "with an unknown failure code")
        return f"Grid Engine failed {words} (a problem of the execution host or the job's setup)"
    return f"the job {describe_exit(status.exit_code, status.signal)}"


def _last_line(stderr_tail: str) -> str:
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1] if len(lines[-1]) <= 200 else lines[-1][:200] + "…"
    return f"; last line of stderr: {last!r}"


def _peak(status: JobStatus, record: ExitRecord | None) -> int | None:
    """The largest of the resident peaks and, h_vmem being a virtual-memory limit, maxvmem."""
    vmem = status.maxvmem_bytes if isinstance(status, SgeJobStatus) else None
    known = [figure for figure in (peak_memory(status, record), vmem) if figure]
    return max(known) if known else None


def _near_memory_limit(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> bool:
    peak = _peak(status, record)
    return bool(job.memory_bytes and peak and peak >= MEMORY_FRACTION * job.memory_bytes)


def _forced_deletion(status: JobStatus, record: ExitRecord | None) -> bool:
    """``qdel -f`` of a running job is recorded as failed 0 / exit 0 with no usage at all."""
    if record is not None or not isinstance(status, SgeJobStatus):
        return False
    return (
        not status.wallclock_seconds
        and not status.cpu_seconds
        and status.elapsed_seconds is not None
        and status.elapsed_seconds >= 2
    )


def _memory_message(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> str:
    limit = f" of {mebibytes(job.memory_bytes)}" if job.memory_bytes else ""
    peak = _peak(status, record)
    seen = f"; peak seen {mebibytes(peak)}" if peak else ""
    return f"its memory limit (h_vmem){limit}{seen}"


def _limit_kill(job: TrackedJob, status: SgeJobStatus, record: ExitRecord | None) -> str:
    """Which limit failed 37 enforced, in words."""
    wallclock = status.wallclock_seconds
    ran = f" after {wallclock:.0f}s" if wallclock is not None else ""
    if _near_memory_limit(job, status, record):
        return f"exceeded {_memory_message(job, status, record)} and was killed{ran}"
    if job.runtime_seconds is not None and (wallclock is None or wallclock >= job.runtime_seconds):
        return (
            f"exceeded its runtime limit (h_rt) of {format_seconds(job.runtime_seconds)} "
            f"and was killed{ran}"
        )
    return f"exceeded a hard limit enforced by Grid Engine (h_rt, h_cpu or h_vmem){ran}"


def classify(
    job: TrackedJob, status: JobStatus, record: ExitRecord | None, stderr_tail: str = ""
) -> RemoteExitInfo:
    """Map a final Grid Engine status (and the worker's record) to exit info.

    Args:
        job: what the tracker knows (request, whether it was terminated).
        status: the final status, normally an `SgeJobStatus` from qacct.
        record: the worker's exit record, if it wrote one.
        stderr_tail: the end of the job's stderr file ("" if unknown), used to recognise
            allocation failures under h_vmem and quoted in messages.

    Returns:
        Finalized exit info (see the module table).
    """
    failed = status.failed if isinstance(status, SgeJobStatus) else 0
    detail = _detail(status)
    what = _what(status, record)
    succeeded = failed == 0 and status.exit_code == 0
    if succeeded and (record is None or record.returncode == 0):
        if not _forced_deletion(status, record):
            return RemoteExitInfo(TaskInstanceStatus.DONE, "")
        if not job.terminated:
            return RemoteExitInfo(
                TaskInstanceStatus.UNKNOWN_ERROR,
                "deleted by force while running (qdel -f, which administrators use for jobs on "
                f"an unreachable host): no usage and no exit record; retryable {detail}",
            )
    if job.terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF, f"terminated on request; {what} {detail}"
        )
    if isinstance(status, SgeJobStatus) and failed == 37:
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, f"{_limit_kill(job, status, record)} {detail}"
        )
    if failed == 100:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"killed from outside this distributor (a qdel by a user or an administrator); "
            f"{what} {detail}",
        )
    if failed != 0:
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            f"{what}; retryable {detail}{_last_line(stderr_tail)}",
        )
    if job.memory_bytes and (
        _near_memory_limit(job, status, record) or ALLOCATION_FAILURE.search(stderr_tail)
    ):
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"ran out of memory: an allocation failed under {_memory_message(job, status, record)}"
            f"; {what} {detail}{_last_line(stderr_tail)}",
        )
    return RemoteExitInfo(TaskInstanceStatus.ERROR, f"{what} {detail}{_last_line(stderr_tail)}")
