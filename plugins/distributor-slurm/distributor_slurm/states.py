"""The Slurm state map: job states → phases and exit info, pending reasons that never clear.

Exit states (Slurm 22.05), as observed on a real cluster (see REPORT.md of the dev cluster):

============== ===== ==========================================================================
Slurm state    code  notes
============== ===== ==========================================================================
COMPLETED      D     the batch script, i.e. the worker, i.e. the command, exited 0
FAILED         E     exit code from ``ExitCode`` (code:signal) and the worker's record; a
                     SIGKILL with peak memory at the request is ``Z`` (memory enforced by
                     polling, without cgroups, looks like this)
OUT_OF_MEMORY  Z     cgroup memory enforcement (ExitCode 0:125)
TIMEOUT        Z     job line ExitCode is 0:0; the signal is on the ``.batch`` step
DEADLINE       Z
CANCELLED      K     ``CANCELLED by <uid>``; K whoever cancelled, the message says who
NODE_FAIL      U     retryable (the job is requeued instead unless ``--no-requeue``)
BOOT_FAIL      U     retryable
PREEMPTED      U     retryable, with the reason
REVOKED        U     a federation sibling ran the job
(other)        U     an unknown final state is reported with its name
============== ===== ==========================================================================

A job terminated through the distributor is ``K`` whatever it ended as, unless it COMPLETED
first.
"""

from __future__ import annotations

import re
from dataclasses import replace

from distributor import RemoteExitInfo, TaskInstanceStatus, format_seconds
from distributor.batch.polling import TrackedJob
from distributor.batch.status import (
    JobPhase,
    JobStatus,
    command_phrase,
    killed_for_memory,
    mebibytes,
    peak_memory,
)
from distributor.worker import ExitRecord

__all__ = [
    "FINAL_STATES",
    "QUEUED_STATES",
    "RUNNING_STATES",
    "classify",
    "phase_of",
    "queueing_error",
]

QUEUED_STATES = frozenset(
    {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
)
"""States of a job that has not started (again) and may still start."""

RUNNING_STATES = frozenset(
    {
        "RUNNING",
        "SUSPENDED",
        "COMPLETING",
        "CONFIGURING",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
"""States of a job that started and has not ended."""

FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "OUT_OF_MEMORY",
        "TIMEOUT",
        "DEADLINE",
        "CANCELLED",
        "NODE_FAIL",
        "BOOT_FAIL",
        "PREEMPTED",
        "REVOKED",
    }
)
"""States of a job that has ended."""

_NEVER_CLEAR = {
    "PartitionTimeLimit": "its time limit exceeds the partition's MaxTime",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "BadConstraints": "its constraints can never be satisfied",
    "InvalidAccount": "its account is invalid",
    "InvalidQOS": "its QOS is invalid",
    "DependencyNeverSatisfied": "a job it depends on ended in a way that fails the dependency",
    "AccountNotAllowed": "the partition does not allow its account",
    "QOSNotAllowed": "the partition does not allow its QOS",
    "MaxMemPerLimit": "it asks for more memory per CPU or node than allowed",
}
_PER_JOB_LIMIT = re.compile(r"(QOS|Assoc)(Max|Min)\w*PerJob\w*")


def phase_of(state: str, *, unknown: JobPhase = JobPhase.QUEUED) -> JobPhase:
    """The phase of a Slurm state word; `unknown` for states this plugin does not know."""
    if state in FINAL_STATES:
        return JobPhase.FINAL
    if state in RUNNING_STATES:
        return JobPhase.RUNNING
    if state in QUEUED_STATES:
        return JobPhase.QUEUED
    return unknown


def queueing_error(reason: str) -> str | None:
    """Explain a pending reason that will never clear by itself; None if it may clear.

    Args:
        reason: squeue's reason, e.g. ``PartitionTimeLimit`` or
            ``ReqNodeNotAvail, UnavailableNodes:vm`` (only the first word counts).
    """
    word = reason.split(",")[0].strip()
    explanation = _NEVER_CLEAR.get(word)
    if explanation is None and _PER_JOB_LIMIT.fullmatch(word):
        explanation = "it exceeds a per-job limit of its QOS or association"
    if explanation is None:
        return None
    return (
        f"pending with reason {word}: {explanation}; it will never start unless the job "
        "or the cluster's limits are changed"
    )


def _slurm_detail(status: JobStatus) -> str:
    parts = [f"Slurm state {status.state}"]
    if status.reason:
        parts.append(f"reason {status.reason}")
    if status.exit_code is not None or status.signal is not None:
        parts.append(f"ExitCode {status.exit_code or 0}:{status.signal or 0}")
    return "(" + ", ".join(parts) + ")"


def _memory_message(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> str:
    limit = f" of {mebibytes(job.memory_bytes)}" if job.memory_bytes else ""
    peak = peak_memory(status, record)
    seen = f"; peak seen {mebibytes(peak)}" if peak else ""
    return f"exceeded its memory limit{limit} and was killed{seen} {_slurm_detail(status)}"


def classify(job: TrackedJob, status: JobStatus, record: ExitRecord | None) -> RemoteExitInfo:
    """Map a final Slurm status and the worker's record to exit info (see the module table)."""
    state = status.state
    if state != "COMPLETED" and not status.exit_code and not status.signal:
        status = replace(status, exit_code=None)  # Slurm's 0:0 of a job that never exited
    detail = _slurm_detail(status)
    if state == "COMPLETED":
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    if job.terminated:
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"terminated on request; {command_phrase(status, record)} {detail}",
        )
    if state == "CANCELLED":
        who = f" {status.reason}" if status.reason.startswith("by ") else ""
        return RemoteExitInfo(
            TaskInstanceStatus.KILLED_SELF,
            f"cancelled{who} outside this distributor; {command_phrase(status, record)} {detail}",
        )
    if state == "OUT_OF_MEMORY" or (
        state == "FAILED" and killed_for_memory(status, record, job.memory_bytes)
    ):
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, _memory_message(job, status, record)
        )
    if state == "FAILED":
        return RemoteExitInfo(
            TaskInstanceStatus.ERROR, f"{command_phrase(status, record)} {detail}"
        )
    if state == "TIMEOUT":
        limit = (
            f" of {format_seconds(job.runtime_seconds)}" if job.runtime_seconds is not None else ""
        )
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"exceeded its runtime limit{limit} and was killed {detail}",
        )
    if state == "DEADLINE":
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR, f"reached its deadline before finishing {detail}"
        )
    retryable = {
        "NODE_FAIL": "its node failed while it ran",
        "BOOT_FAIL": "its node failed to boot",
        "PREEMPTED": "it was preempted by a higher-priority job",
        "REVOKED": "it was revoked because a sibling cluster of the federation ran it",
    }
    what = retryable.get(state, f"it ended in a Slurm state this plugin does not know ({state})")
    return RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, f"{what}; retryable {detail}")
