"""The HTCondor state map: ``JobStatus`` and hold codes → phases, queueing errors and exit info.

``JobStatus`` codes (HTCondor manual, "Job Status Codes")::

    1 Idle → queued     2 Running → running     3 Removed → final (running while its run is
    being stopped: ``RemoteHost`` set)     4 Completed → final     5 Held → queued, or final for
    a resource-limit hold     6 Transferring Output → running     7 Suspended → running

Exit info of a final job:

=========================================================== ==== =================================
HTCondor                                                    code notes
=========================================================== ==== =================================
Completed, ``ExitBySignal`` false, ``ExitCode`` 0           D
Completed after the worker stopped the command at its       Z    the worker's record says which
memory or runtime limit                                          limit and by how much
Completed, ``ExitCode`` N ≠ 0                               E    the worker's record names signals
Completed, ``ExitBySignal``, ``ExitSignal`` 9, peak memory  Z    an OOM kill without a hold
at ≥ 90 % of ``RequestMemory``
Completed, ``ExitBySignal``                                 E    ``killed by signal SIGxxx``
Held, ``HoldReasonCode`` 34 [JobOutOfResources]             Z    subcode 102 memory, 104 disk
Held, 46 [JobDurationExceeded] / 47 [JobExecuteExceeded]    Z    ``allowed_job_duration`` /
                                                                 ``allowed_execute_duration``
Held, 3 [JobPolicy] / 21 [StartdHeldJob] / 26               Z    when subcode 102 (this plugin's
[SystemPolicy] naming memory or time                             memory policy) or the reason
                                                                 names memory, time or duration
Held, any other code                                        —    stays queued; reported by
                                                                 ``get_queueing_errors`` unless
                                                                 it is 1, 15 or 16 (user hold,
                                                                 submitted on hold, spooling)
Removed after a resource-limit hold                         Z
Removed by ``periodic_remove``/``SYSTEM_PERIODIC_REMOVE``   Z    ``The job attribute
naming memory or time                                            PeriodicRemove expression '...'
                                                                 evaluated to TRUE``
Removed ``via condor_rm (by user X)``                       K    removed outside this distributor
Removed by another policy                                   E
terminated through this distributor                         K    unless it Completed with 0 first
=========================================================== ==== =================================
"""

from __future__ import annotations

import dataclasses
import re

from distributor import RemoteExitInfo, TaskInstanceStatus, format_seconds
from distributor.batch import (
    JobPhase,
    JobStatus,
    TrackedJob,
    describe_exit,
    describe_record,
    limit_exit_info,
    mebibytes,
)
from distributor.worker import ExitRecord
from distributor_htcondor.parsers import JobAd

__all__ = [
    "BENIGN_HOLDS",
    "HOLD_LABELS",
    "JOB_STATUS_NAMES",
    "MEMORY_KILL_FRACTION",
    "MEMORY_SUBCODE",
    "accounting",
    "classify",
    "hold_limit",
    "job_status",
    "queueing_error",
    "removal_limit",
]

JOB_STATUS_NAMES = {
    1: "Idle",
    2: "Running",
    3: "Removed",
    4: "Completed",
    5: "Held",
    6: "Transferring Output",
    7: "Suspended",
}
"""``JobStatus`` code → HTCondor's name for it."""

HOLD_LABELS = {
    1: "UserRequest",
    3: "JobPolicy",
    4: "CorruptedCredential",
    5: "JobPolicyUndefined",
    6: "FailedToCreateProcess",
    7: "UnableToOpenOutput",
    8: "UnableToOpenInput",
    9: "UnableToOpenOutputStream",
    10: "UnableToOpenInputStream",
    11: "InvalidTransferAck",
    12: "TransferOutputError",
    13: "TransferInputError",
    14: "IwdError",
    15: "SubmittedOnHold",
    16: "SpoolingInput",
    17: "JobShadowMismatch",
    18: "InvalidTransferGoAhead",
    19: "HookPrepareJobFailure",
    20: "MissedDeferredExecutionTime",
    21: "StartdHeldJob",
    22: "UnableToInitUserLog",
    23: "FailedToAccessUserAccount",
    24: "NoCompatibleShadow",
    25: "InvalidCronSettings",
    26: "SystemPolicy",
    27: "SystemPolicyUndefined",
    32: "MaxTransferInputSizeExceeded",
    33: "MaxTransferOutputSizeExceeded",
    34: "JobOutOfResources",
    35: "InvalidDockerImage",
    36: "FailedToCheckpoint",
    43: "PreScriptFailed",
    44: "PostScriptFailed",
    45: "SingularityTestFailed",
    46: "JobDurationExceeded",
    47: "JobExecuteExceeded",
    48: "HookShadowPrepareJobFailure",
}
"""``HoldReasonCode`` → its label in the HTCondor manual's table of hold reason codes."""

BENIGN_HOLDS = frozenset({1, 15, 16})
"""Holds that clear by themselves or by the user's own hand: not queueing errors."""

MEMORY_SUBCODE = 102
"""``HoldReasonSubCode`` of a memory hold (code 34), also written by this plugin's memory policy."""

DISK_SUBCODE = 104
"""``HoldReasonSubCode`` of a disk hold (code 34)."""

MEMORY_KILL_FRACTION = 0.9
"""A SIGKILLed job whose peak memory reached this share of its request was killed for memory."""

_POLICY_HOLDS = frozenset({3, 21, 26})
_MEMORY_WORDS = re.compile(r"memory|MemoryUsage|ResidentSetSize|RequestMemory|\bOOM\b", re.I)
_TIME_WORDS = re.compile(
    r"duration|wall ?time|run ?time|time limit|\btime\(\)|RemoteWallClockTime|"
    r"JobCurrentStartDate|\bhrs\b|\bhours?\b",
    re.I,
)
_POLICY_REMOVAL = re.compile(r"PeriodicRemove|SYSTEM_PERIODIC_REMOVE|periodic_remove", re.I)
_USER_REMOVAL = re.compile(r"via condor_rm(?: \(by user (?P<user>[^)]*)\))?")


def hold_limit(code: int | None, subcode: int | None, reason: str) -> str | None:
    """The limit a hold enforces (``memory``, ``runtime``, ``disk``, ``resources``), or None.

    Args:
        code / subcode: ``HoldReasonCode`` and ``HoldReasonSubCode``.
        reason: ``HoldReason``.
    """
    if code == 34:
        if subcode == DISK_SUBCODE:
            return "disk"
        if subcode == MEMORY_SUBCODE or _MEMORY_WORDS.search(reason):
            return "memory"
        return "resources"
    if code in (46, 47):
        return "runtime"
    if code in _POLICY_HOLDS:
        if subcode == MEMORY_SUBCODE or _MEMORY_WORDS.search(reason):
            return "memory"
        if _TIME_WORDS.search(reason):
            return "runtime"
    return None


def removal_limit(reason: str) -> str | None:
    """The limit a policy removal enforced (``memory`` or ``runtime``), or None."""
    if not _POLICY_REMOVAL.search(reason):
        return None
    if _MEMORY_WORDS.search(reason):
        return "memory"
    if _TIME_WORDS.search(reason):
        return "runtime"
    return None


def _hold_label(ad: JobAd) -> str:
    code = ad.hold_code
    label = HOLD_LABELS.get(code, "unknown") if code is not None else "no code"
    sub = f", subcode {ad.hold_subcode}" if ad.hold_subcode else ""
    return f"HoldReasonCode {code} [{label}]{sub}"


def job_status(ad: JobAd) -> JobStatus:
    """The tracker's view of one job ad (phase, HTCondor's state name, the reason, the exit;
    for a final job, the accounting of its latest run, see `accounting`).

    A job held for a resource limit is final and `JobStatus.lingering`: its attempt is over,
    but it stays in the queue until it is removed.
    """
    status = _job_status(ad)
    return accounting(status, ad) if status.phase is JobPhase.FINAL else status


def accounting(status: JobStatus, ad: JobAd) -> JobStatus:
    """`status` with HTCondor's accounting of the job's latest run: elapsed
    ``LastRemoteWallClockTime`` (else ``RemoteWallClockTime``, which sums every run), CPU
    ``RemoteUserCpu`` + ``RemoteSysCpu``, start ``JobCurrentStartDate``, end
    ``CompletionDate`` (else ``EnteredCurrentStatus``: when it was held or removed) and the
    host of its slot. A job that never started gets none of them: its ``0.0`` figures and
    the time it was removed say nothing about a run.
    """
    elapsed = ad.run_seconds if ad.run_seconds is not None else ad.wall_seconds
    if ad.started_at is None and not elapsed:
        return status
    return dataclasses.replace(
        status,
        elapsed=elapsed,
        cpu_seconds=ad.cpu_seconds,
        started_at=ad.started_at,
        ended_at=ad.completed_at or ad.entered_status_at,
        host=ad.host,
    )


def _job_status(ad: JobAd) -> JobStatus:
    name = JOB_STATUS_NAMES.get(ad.status, f"JobStatus {ad.status}")
    peak = ad.peak_bytes
    if ad.status == 5:
        reason = f"{_hold_label(ad)}: {ad.hold_reason}".rstrip(": ")
        limit = hold_limit(ad.hold_code, ad.hold_subcode, ad.hold_reason)
        return JobStatus(
            ad.distributor_id,
            JobPhase.QUEUED if limit is None else JobPhase.FINAL,
            name,
            reason,
            maxrss_bytes=peak,
            source=ad.source,
            lingering=limit is not None,  # its attempt is over, but the schedd still holds it
        )
    if ad.status == 3 and ad.in_run:
        # removed while it ran: condor_q lists it until the execute machine has stopped it and
        # its exit is recorded; the history ad has how it exited
        return JobStatus(
            ad.distributor_id,
            JobPhase.RUNNING,
            name,
            f"{ad.remove_reason}; being stopped".lstrip("; "),
            maxrss_bytes=peak,
            source=ad.source,
        )
    if ad.status in (3, 4):
        # a job removed while it ran keeps how it exited after condor_rm's SIGTERM (recorded:
        # ExitCode 143, or ExitBySignal and ExitSignal, beside JobStatus 3)
        return JobStatus(
            ad.distributor_id,
            JobPhase.FINAL,
            name,
            ad.remove_reason if ad.status == 3 else "",
            exit_code=None if ad.exit_by_signal else ad.exit_code,
            signal=ad.exit_signal if ad.exit_by_signal else None,
            maxrss_bytes=peak,
            source=ad.source,
        )
    phase = JobPhase.RUNNING if ad.status in (2, 6, 7) else JobPhase.QUEUED
    return JobStatus(ad.distributor_id, phase, name, maxrss_bytes=peak, source=ad.source)


def queueing_error(ad: JobAd) -> str | None:
    """Explain why a held job will not run without someone's help; None if it may run."""
    if ad.status != 5 or ad.hold_code in BENIGN_HOLDS:
        return None
    if hold_limit(ad.hold_code, ad.hold_subcode, ad.hold_reason) is not None:
        return None  # a resource-limit hold is a final state, not a queueing error
    return (
        f"held by HTCondor ({_hold_label(ad)}): {ad.hold_reason or 'no reason given'}; "
        "it will not run unless it is released (condor_release) after the cause is fixed"
    )


def _command_phrase(ad: JobAd, record: ExitRecord | None) -> str:
    """How the command ended, preferring the worker's record to HTCondor's exit attributes."""
    if record is not None:
        return f"the command {describe_record(record)}"
    if ad.exit_by_signal or ad.exit_code is not None:
        return (
            f"the job {describe_exit(ad.exit_code, ad.exit_signal if ad.exit_by_signal else None)}"
        )
    return "it ended without an exit status (removed or held before it finished)"


def _detail(ad: JobAd) -> str:
    parts = [f"JobStatus {ad.status} ({JOB_STATUS_NAMES.get(ad.status, 'unknown')})"]
    if ad.status in (3, 4) and ad.exit_by_signal:
        parts.append(f"ExitBySignal true, ExitSignal {ad.exit_signal}")
    elif ad.status == 4 or (ad.status == 3 and ad.exit_code is not None):
        parts.append(f"ExitCode {ad.exit_code}")
    if ad.hold_code is not None:
        parts.append(_hold_label(ad))
    if ad.remove_reason:
        parts.append(f"RemoveReason {ad.remove_reason!r}")
    return "(HTCondor " + ", ".join(parts) + ")"


def _peak(ad: JobAd, record: ExitRecord | None) -> int | None:
    peaks = [p for p in (ad.peak_bytes, record.maxrss_bytes if record else None) if p]
    return max(peaks) if peaks else None


def _limit_info(
    limit: str, job: TrackedJob, ad: JobAd, record: ExitRecord | None
) -> RemoteExitInfo:
    if limit == "memory":
        requested = job.memory_bytes or (
            ad.request_memory_mb * 2**20 if ad.request_memory_mb else None
        )
        of = f" of {mebibytes(requested)}" if requested else ""
        peak = _peak(ad, record)
        seen = f"; peak seen {mebibytes(peak)}" if peak else ""
        what = f"exceeded its memory limit{of} and was stopped{seen}"
    elif limit == "runtime":
        of = f" of {format_seconds(job.runtime_seconds)}" if job.runtime_seconds is not None else ""
        what = f"exceeded its runtime limit{of} and was stopped"
    else:
        what = f"exceeded its {limit} limit and was stopped"
    said = ad.hold_reason or ad.remove_reason
    quoted = f": {said!r}" if said else ""
    return RemoteExitInfo(TaskInstanceStatus.RESOURCE_ERROR, f"{what}{quoted} {_detail(ad)}")


def _killed_for_memory(job: TrackedJob, ad: JobAd, record: ExitRecord | None) -> bool:
    sigkill = (ad.exit_by_signal and ad.exit_signal == 9) or (
        record is not None and record.signal == "SIGKILL"
    )
    requested = job.memory_bytes or (ad.request_memory_mb or 0) * 2**20
    peak = _peak(ad, record)
    return bool(sigkill and requested and peak and peak >= MEMORY_KILL_FRACTION * requested)


def classify(job: TrackedJob, ad: JobAd, record: ExitRecord | None) -> RemoteExitInfo:
    """Map a final job ad and the worker's record to exit info (see the module table)."""
    detail = _detail(ad)
    if ad.status == 4 and not ad.exit_by_signal and ad.exit_code == 0:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    if job.terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"terminated on request; {_command_phrase(ad, record)} {detail}",
        )
    if ad.status == 5 or (ad.status == 3 and ad.hold_code is not None):
        limit = hold_limit(ad.hold_code, ad.hold_subcode, ad.hold_reason)
        if limit is not None:
            return _limit_info(limit, job, ad, record)
    if ad.status == 3:
        limit = removal_limit(ad.remove_reason)
        if limit is not None:
            return _limit_info(limit, job, ad, record)
        user = _USER_REMOVAL.search(ad.remove_reason)
        if user is not None:
            who = f" by user {user['user']}" if user["user"] else ""
            return RemoteExitInfo(
                TaskInstanceStatus.KILLED_SELF,
                f"removed{who} with condor_rm outside this distributor; "
                f"{_command_phrase(ad, record)} {detail}",
            )
        return RemoteExitInfo(
            TaskInstanceStatus.ERROR,
            f"removed by HTCondor ({ad.remove_reason or 'no RemoveReason'}); "
            f"{_command_phrase(ad, record)} {detail}",
        )
    if ad.status == 4:
        limited = limit_exit_info(record) if record is not None else None
        if limited is not None:  # the worker stopped it at its limit: its own words
            return limited
        if _killed_for_memory(job, ad, record):
            return _limit_info("memory", job, ad, record)
        return RemoteExitInfo(TaskInstanceStatus.ERROR, f"{_command_phrase(ad, record)} {detail}")
    return RemoteExitInfo(
        TaskInstanceStatus.UNKNOWN_ERROR,
        f"it ended in a state this plugin cannot classify; retryable {detail}",
    )
