"""The LSF state map: ``STAT`` values → phases, termination reasons (``TERM_*``) → exit info.

``STAT`` values (``bjobs`` description, IBM Spectrum LSF 10.1):

========= ======= =====================================================================
STAT      phase   meaning
========= ======= =====================================================================
PEND      queued  waiting to be dispatched
PSUSP     queued  suspended by its owner or an administrator while pending
PROV      queued  dispatched to a power-saved host that is being woken up
WAIT      queued  a member of a chunk job waiting its turn
RUN       running running
USUSP     running suspended by its owner or an administrator while running
SSUSP     running suspended by LSF (load, run window)
UNKWN     running mbatchd lost contact with the execution host; it may still run
ZOMBI     running killed while its host was unreachable; LSF has not cleaned it up yet
DONE      final   the job script exited 0
EXIT      final   it exited non-zero, or LSF ended it (the exit reason says why)
========= ======= =====================================================================

Exit info of a final job (``TERM_*`` keywords as ``bjobs -l``/``bhist -l``/``bacct -l`` show
them, from IBM's table "Termination reasons displayed by bacct, bhist, and bjobs"):

=============================================== ===== ===========================================
reason                                          code  notes
=============================================== ===== ===========================================
(DONE)                                          D
(EXIT, no reason)                               E     exit code; the worker's record says whether
                                                      the command exited or was signalled; a
                                                      SIGKILL at ≥90 % of the requested memory is Z
TERM_RUNLIMIT, TERM_MEMLIMIT, TERM_SWAP,        Z     a limit of the job or its queue
TERM_CPULIMIT, TERM_PROCESSLIMIT,
TERM_THREADLIMIT, TERM_DEADLINE
(the worker's record says it enforced a limit)  Z     memory or runtime, with what was used (unless
                                                      LSF named a limit, or somebody killed it)
TERM_OWNER, TERM_ADMIN, TERM_FORCE_*,           K     ``bkill`` (the message says by whom)
TERM_REQUEUE_OWNER/ADMIN, TERM_BUCKET_KILL
TERM_EXTERNAL_SIGNAL                            E     a signal from outside LSF
TERM_PREEMPT, TERM_LOAD, TERM_WINDOW,           U     the cluster ended it; retryable
TERM_ZOMBIE, TERM_CHKPNT, TERM_CWD_NOTEXIST, ...
(unknown TERM_*)                                U     reported with its keyword
=============================================== ===== ===========================================

A job terminated through the distributor is ``K`` whatever reason LSF gives, unless it was
DONE first.
"""

from __future__ import annotations

from distributor import RemoteExitInfo, TaskInstanceStatus, format_seconds
from distributor.batch import (
    JobPhase,
    JobStatus,
    TrackedJob,
    command_phrase,
    killed_for_memory,
    limit_exit_info,
    mebibytes,
    peak_memory,
)
from distributor.worker import ExitRecord

__all__ = [
    "FINAL_STATES",
    "KILL_REASONS",
    "LIMIT_REASONS",
    "QUEUED_STATES",
    "RUNNING_STATES",
    "TERMINATION_REASONS",
    "classify",
    "phase_of",
    "queueing_error",
]

QUEUED_STATES = frozenset({"PEND", "PSUSP", "PROV", "WAIT"})
"""States of a job that has not started and may still start."""

RUNNING_STATES = frozenset({"RUN", "USUSP", "SSUSP", "UNKWN", "ZOMBI"})
"""States of a job that started and has not been reported finished."""

FINAL_STATES = frozenset({"DONE", "EXIT"})
"""States of a job that has ended."""

TERMINATION_REASONS: dict[str, str] = {
    "TERM_ADMIN": "job killed by root or LSF administrator",
    "TERM_BUCKET_KILL": "job killed with bkill -b",
    "TERM_CHKPNT": "job killed after checkpointing",
    "TERM_CPULIMIT": "job killed after reaching LSF CPU usage limit",
    "TERM_CSM_ALLOC": "job killed by LSF due to CSM allocation API error",
    "TERM_CWD_NOTEXIST": "current working directory is not accessible or does not exist "
    "on the execution host",
    "TERM_DATA": "job killed by LSF due to failed data staging",
    "TERM_DEADLINE": "job killed after deadline expires",
    "TERM_EXTERNAL_SIGNAL": "job killed by a signal external to LSF",
    "TERM_FORCE_ADMIN": "job killed by root or LSF administrator without time for cleanup",
    "TERM_FORCE_OWNER": "job killed by owner without time for cleanup",
    "TERM_KUBE": "job killed by LSF due to Kubernetes integration",
    "TERM_LOAD": "job killed after load exceeds threshold",
    "TERM_MC_RECALL": "job killed by LSF due to multicluster job recall",
    "TERM_MEMLIMIT": "job killed after reaching LSF memory usage limit",
    "TERM_ORPHAN_SYSTEM": "the orphan job was automatically terminated by LSF",
    "TERM_OTHER": "member of a chunk job in WAIT state killed and requeued after being "
    "switched to another queue",
    "TERM_OWNER": "job killed by owner",
    "TERM_PREEMPT": "job killed after preemption",
    "TERM_PRE_EXEC_FAIL": "job killed after reaching pre-execution retry limit",
    "TERM_PROCESSLIMIT": "job killed after reaching LSF process limit",
    "TERM_RC": "job killed by LSF when an LSF resource connector execution host is reclaimed "
    "by cloud",
    "TERM_REMOVE_HUNG_JOB": "job removed from LSF",
    "TERM_REQUEUE_ADMIN": "job killed and requeued by root or LSF administrator",
    "TERM_REQUEUE_OWNER": "job killed and requeued by owner",
    "TERM_REQUEUE_RC": "job killed and requeued when an LSF resource connector execution host "
    "is reclaimed by cloud",
    "TERM_RMS": "job exited from an RMS system error",
    "TERM_RUNLIMIT": "job killed after reaching LSF run time limit",
    "TERM_SLURM": "job terminated abnormally in SLURM (node failure)",
    "TERM_SWAP": "job killed after reaching LSF swap usage limit",
    "TERM_THREADLIMIT": "job killed after reaching LSF thread limit",
    "TERM_UNKNOWN": "LSF cannot determine a termination reason",
    "TERM_WINDOW": "job killed after queue run window closed",
    "TERM_ZOMBIE": "job exited while LSF is not available",
}
"""Every documented termination reason keyword → its description."""

KILL_REASONS = frozenset(
    {
        "TERM_OWNER",
        "TERM_ADMIN",
        "TERM_FORCE_OWNER",
        "TERM_FORCE_ADMIN",
        "TERM_REQUEUE_OWNER",
        "TERM_REQUEUE_ADMIN",
        "TERM_BUCKET_KILL",
    }
)
"""Reasons meaning somebody killed the job with ``bkill`` (or ``brequeue``)."""

LIMIT_REASONS: dict[str, str] = {
    "TERM_RUNLIMIT": "runtime",
    "TERM_MEMLIMIT": "memory",
    "TERM_SWAP": "swap",
    "TERM_CPULIMIT": "CPU time",
    "TERM_PROCESSLIMIT": "process",
    "TERM_THREADLIMIT": "thread",
    "TERM_DEADLINE": "deadline",
}
"""Reasons meaning the job hit a limit → the limit's name."""

_NEVER_CLEAR = {
    "dependency condition invalid or never satisfied": (
        "a job it depends on ended in a way that can never satisfy the dependency"
    ),
}


def phase_of(state: str, *, unknown: JobPhase = JobPhase.QUEUED) -> JobPhase:
    """The phase of an LSF ``STAT`` value; `unknown` for states this plugin does not know."""
    if state in FINAL_STATES:
        return JobPhase.FINAL
    if state in RUNNING_STATES:
        return JobPhase.RUNNING
    if state in QUEUED_STATES:
        return JobPhase.QUEUED
    return unknown


def queueing_error(reason: str) -> str | None:
    """Explain a pending reason that will never clear by itself; None if it may clear."""
    for words, explanation in _NEVER_CLEAR.items():
        if words in reason.lower():
            return (
                f"pending with reason {reason.strip()!r}: {explanation}; it will never start "
                "unless the job or its dependency is changed"
            )
    return None


def _lsf_detail(status: JobStatus) -> str:
    parts = [f"LSF {status.state}"]
    if status.reason:
        description = TERMINATION_REASONS.get(status.reason)
        parts.append(f"{status.reason}: {description}" if description else status.reason)
    if status.signal is not None:
        parts.append(f"signal {status.signal}")
    elif status.exit_code is not None:
        parts.append(f"exit code {status.exit_code}")
    return "(" + ", ".join(parts) + ")"


def _limit_message(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> str:
    limit = LIMIT_REASONS.get(status.reason, "memory")
    detail = _lsf_detail(status)
    if limit == "runtime":
        of = f" of {format_seconds(job.runtime_seconds)}" if job.runtime_seconds else ""
        return f"exceeded its runtime limit{of} and was killed {detail}"
    if limit == "memory":
        of = f" of {mebibytes(job.memory_bytes)}" if job.memory_bytes else ""
        peak = peak_memory(status, record)
        seen = f"; peak seen {mebibytes(peak)}" if peak else ""
        return f"exceeded its memory limit{of} and was killed{seen} {detail}"
    if limit == "deadline":
        return f"reached its deadline before finishing {detail}"
    return f"exceeded its {limit} limit and was killed {detail}"


def _killer(reason: str) -> str:
    if "ADMIN" in reason:
        return "by root or an LSF administrator"
    if "OWNER" in reason:
        return "by its owner"
    return "with bkill -b"


def classify(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> RemoteExitInfo:
    """Map a final LSF status and the worker's record to exit info (see the module table)."""
    reason = status.reason
    detail = _lsf_detail(status)
    if status.state == "DONE":
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    if job.terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"terminated on request; {command_phrase(status, record)} {detail}",
        )
    if reason in KILL_REASONS:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"killed {_killer(reason)} outside this distributor; "
            f"{command_phrase(status, record)} {detail}",
        )
    if reason in LIMIT_REASONS:
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _limit_message(job, status, record)
        )
    enforced = limit_exit_info(record) if record is not None else None
    if enforced is not None:  # the worker says which limit, and by how much
        return RemoteExitInfo(enforced.error_state, f"{enforced.error_message} {detail}")
    if killed_for_memory(status, record, job.memory_bytes):
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _limit_message(job, status, record)
        )
    if reason in ("", "TERM_EXTERNAL_SIGNAL", "TERM_UNKNOWN"):
        return RemoteExitInfo(
            TaskInstanceStatus.ERROR, f"{command_phrase(status, record)} {detail}"
        )
    description = TERMINATION_REASONS.get(reason)
    what = (
        f"LSF ended it: {description}"
        if description
        else f"it ended with an LSF termination reason this plugin does not know ({reason})"
    )
    return RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, f"{what}; retryable {detail}")
