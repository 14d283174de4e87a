"""The PBS state map: a final ``job_state`` with its ``Exit_status`` → exit info.

Rules, in order (X = ``Exit_status``; "record" = the worker's exit record):

=====================================================  ====  ===================================
condition                                              code  notes
=====================================================  ====  ===================================
X = 0                                                  D     even if termination was requested
termination requested through this distributor         K
X is a documented limit kill (Pro -29/-28, -27/-26,    Z     runtime, memory or CPU limit
-25/-24; Torque -11/-12, -10)                                (PBS's verdict wins)
the worker's record says it stopped the command for    Z     ``distributor-worker`` enforced the
exceeding its memory or runtime limit                        request itself
``resources_used.walltime`` ≥ ``Resource_List.``       Z     servers that report limit kills as
``walltime`` and PBS signalled the job                       signals (256+N, or 128+N through the
                                                             worker) instead of codes
killed by SIGKILL with peak memory ≥ 90 % of request   Z     memory enforced by signal
Pro substate 91 (deleted)                              K     ``qdel`` outside this distributor
no substate (Torque) and PBS's SIGTERM ended the job   K     X = 256+15, or the worker trapped
                                                             SIGTERM: ``qdel`` sends it
X < 0 (any other PBS code)                             U     the code's name and meaning;
                                                             retryable
no X (history without exit status)                     E/U   from the worker's record, else U
X > 0                                                  E     the command's status or signal
=====================================================  ====  ===================================
"""

from __future__ import annotations

from dataclasses import fields

from distributor import RemoteExitInfo, TaskInstanceStatus
from distributor.batch import (
    JobStatus,
    TrackedJob,
    command_phrase,
    exit_info_from_record,
    killed_for_memory,
    limit_exit_info,
    mebibytes,
    peak_memory,
)
from distributor.worker import ExitRecord
from distributor_pbs.codes import JOB_STATES, SIGNAL_BASE, SUBSTATE_TERMINATED
from distributor_pbs.flavours import Flavour, walltime
from distributor_pbs.parsers import PbsJobStatus

__all__ = ["classify", "queueing_error"]

_SIGTERM = 15


def queueing_error(status: JobStatus) -> str | None:
    """Why a queued job can never start (PBS Pro's ``Can never run`` comment), or None."""
    if status.reason.startswith("Can never run"):
        return f"PBS says: {status.reason}; it will never start unless the request changes"
    return None


def _detail(flavour: Flavour, status: PbsJobStatus) -> str:
    parts = [f"{flavour.title} job_state {status.state}"]
    if status.exit_status is not None:
        parts.append(f"Exit_status {_exit_words(flavour, status.exit_status)}")
    if status.substate is not None:
        parts.append(f"substate {status.substate}")
    return "(" + ", ".join(parts) + ")"


def _exit_words(flavour: Flavour, exit_status: int) -> str:
    if exit_status < 0:
        return flavour.codes.describe(exit_status)
    if exit_status > SIGNAL_BASE:
        return f"{exit_status} = {SIGNAL_BASE}+{exit_status - SIGNAL_BASE}"
    return str(exit_status)


def _terminated_by_pbs(status: PbsJobStatus, record: ExitRecord | None) -> bool:
    """PBS sent the job SIGTERM (qdel, or a limit on servers that do not name it): the top
    process died of it (256+15), or the worker trapped it (PBS signals the whole job)."""
    trapped = record is not None and "SIGTERM" in record.signals_received
    return status.signal == _SIGTERM or trapped


def _killed_by_pbs(status: PbsJobStatus, record: ExitRecord | None) -> bool:
    """PBS, or the kernel for it, ended the job with a signal: SIGTERM as above, the top
    process killed by any signal (256+N), or the command by an untrappable SIGKILL."""
    sigkill = status.exit_code == 128 + 9 or (record is not None and record.signal == "SIGKILL")
    return _terminated_by_pbs(status, record) or status.signal is not None or sigkill


def _runtime_message(job: TrackedJob, status: PbsJobStatus, detail: str) -> str:
    limit = job.runtime_seconds or status.walltime_limit
    shown = f" of {walltime(limit)}" if limit else ""
    used = f" after {walltime(status.walltime_used)}" if status.walltime_used else ""
    return f"exceeded its runtime limit{shown} and was killed{used} {detail}"


def _memory_message(
    job: TrackedJob, status: PbsJobStatus, record: ExitRecord | None, detail: str
) -> str:
    limit = f" of {mebibytes(job.memory_bytes)}" if job.memory_bytes else ""
    peak = peak_memory(status, record)
    seen = f"; peak seen {mebibytes(peak)}" if peak else ""
    return f"exceeded its memory limit{limit} and was killed{seen} {detail}"


def _limit_kill(
    flavour: Flavour, job: TrackedJob, status: PbsJobStatus, record: ExitRecord | None
) -> RemoteExitInfo | None:
    """Z for a documented limit code, the worker's own limit verdict, or signals that only a
    limit explains."""
    exit_status = status.exit_status
    detail = _detail(flavour, status)
    codes = flavour.codes
    if exit_status in codes.runtime_kills:
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _runtime_message(job, status, detail)
        )
    if exit_status in codes.memory_kills:
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _memory_message(job, status, record, detail)
        )
    if exit_status in codes.cpu_kills:
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"used more CPUs than it requested and was killed {detail}",
        )
    worker = limit_exit_info(record) if record is not None else None
    if worker is not None:
        return RemoteExitInfo(worker.error_state, f"{worker.error_message} {detail}")
    over_time = (
        status.walltime_used is not None
        and status.walltime_limit is not None
        and status.walltime_used >= status.walltime_limit
    )
    if over_time and _killed_by_pbs(status, record):
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _runtime_message(job, status, detail)
        )
    if killed_for_memory(status, record, job.memory_bytes):
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _memory_message(job, status, record, detail)
        )
    return None


def _removed(status: PbsJobStatus, record: ExitRecord | None) -> bool:
    """Deleted by ``qdel``: PBS Pro says so in its substate; Torque only by the SIGTERM."""
    if status.substate is not None:
        return status.substate == SUBSTATE_TERMINATED
    return _terminated_by_pbs(status, record)


def classify(
    flavour: Flavour, job: TrackedJob, status: JobStatus, record: ExitRecord | None
) -> RemoteExitInfo:
    """Map a final PBS status and the worker's record to exit info (see the module table)."""
    if not isinstance(status, PbsJobStatus):  # another backend's status: no PBS attributes
        status = PbsJobStatus(**{f.name: getattr(status, f.name) for f in fields(JobStatus)})
    detail = _detail(flavour, status)
    if status.exit_status == 0:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    if job.terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"terminated on request; {command_phrase(status, record)} {detail}",
        )
    limit = _limit_kill(flavour, job, status, record)
    if limit is not None:
        return limit
    if _removed(status, record):
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"deleted (qdel) outside this distributor; {command_phrase(status, record)} {detail}",
        )
    if status.exit_status is None:
        if record is not None:
            info = exit_info_from_record(record)
            if info.error_state is TaskInstanceStatus.DONE:
                return info
            return RemoteExitInfo(info.error_state, f"{info.error_message} {detail}")
        words = JOB_STATES.get(status.state, (None, "in an unknown state"))[1]
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            f"{words} without an exit status, and the worker left no exit record "
            f"(it may never have started); retryable {detail}",
        )
    if status.exit_status < 0:
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            f"PBS could not run it: Exit_status {flavour.codes.describe(status.exit_status)}; "
            f"retryable {detail}",
        )
    return RemoteExitInfo(TaskInstanceStatus.ERROR, f"{command_phrase(status, record)} {detail}")
