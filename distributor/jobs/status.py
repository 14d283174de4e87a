"""From the service's view of a task to CAF's view of a subjob, and per-job summaries.

A subjob is the service task ``<job>_<id>`` tagged ``job:<job>``. Its `JobStatus`:

=========================================  ==============
the task                                   the subjob
=========================================  ==============
not in the journal, waiting, or ``Q``      ``init``
``I`` (being submitted), ``O`` (queued)    ``submitted``
``R`` (running), ``T`` (ending)            ``running``
``failed`` or ``cancelled``                ``failed``
``done``                                   ``completed``
=========================================  ==============

(`distributor.jobs.runner.JobRunner` says ``completed`` only once the outputs are collected
too.) `job_summaries` groups a journal's tasks by job, for ``distributor status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distributor.exit_info import TaskInstanceStatus
from distributor.jobs.model import JobStatus, lowest_status
from distributor.service.model import TaskInfo, TaskStatus

__all__ = ["JOB_TAG_PREFIX", "JobSummary", "job_summaries", "job_tag", "subjob_status"]

JOB_TAG_PREFIX = "job:"

_SUBMITTED = {TaskInstanceStatus.INSTANTIATED, TaskInstanceStatus.LAUNCHED}
_RUNNING = {TaskInstanceStatus.RUNNING, TaskInstanceStatus.TRIAGING}


def job_tag(job: str) -> str:
    """The tag that marks the tasks of job `job`."""
    return JOB_TAG_PREFIX + job


def subjob_status(info: TaskInfo | None) -> JobStatus:
    """The status of the subjob whose task is `info` (None: not in the journal yet); a task
    that ended done is ``completed`` here, whether or not its outputs are collected yet."""
    if info is None:
        return JobStatus.INIT
    if info.status is TaskStatus.DONE:
        return JobStatus.COMPLETED
    if info.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        return JobStatus.FAILED
    if info.instance_status in _RUNNING:
        return JobStatus.RUNNING
    if info.instance_status in _SUBMITTED:
        return JobStatus.SUBMITTED
    return JobStatus.INIT


@dataclass(slots=True)
class JobSummary:
    """One job as a journal shows it.

    Attributes:
        name: the job's name; subjobs: subjob name → its status, in journal order.
    """

    name: str
    subjobs: dict[str, JobStatus] = field(default_factory=dict)

    @property
    def status(self) -> JobStatus:
        """The lowest status of its subjobs."""
        return lowest_status(self.subjobs.values())

    def counts(self) -> dict[str, int]:
        """Subjobs per status, in CAF's order, zero counts left out."""
        result: dict[str, int] = {}
        for status in JobStatus:
            count = sum(1 for value in self.subjobs.values() if value is status)
            if count:
                result[status.value] = count
        return result

    def line(self) -> str:
        """``job calib: running — 5 subjobs: running 2 · completed 3``."""
        counts = " · ".join(f"{key} {value}" for key, value in self.counts().items())
        return f"job {self.name}: {self.status.value} — {len(self.subjobs)} subjobs: {counts}"

    def to_json(self) -> dict[str, Any]:
        """``{"name", "status", "counts", "subjobs": {name: status}}``."""
        return {
            "name": self.name,
            "status": self.status.value,
            "counts": self.counts(),
            "subjobs": {name: status.value for name, status in self.subjobs.items()},
        }


def job_summaries(infos: Iterable[TaskInfo]) -> list[JobSummary]:
    """The jobs among `infos` (tasks tagged ``job:<name>``), in order of first appearance."""
    jobs: dict[str, JobSummary] = {}
    for info in infos:
        for tag in sorted(info.tags):
            if tag.startswith(JOB_TAG_PREFIX):
                name = tag[len(JOB_TAG_PREFIX) :]
                jobs.setdefault(name, JobSummary(name)).subjobs[info.name] = subjob_status(info)
    return list(jobs.values())
