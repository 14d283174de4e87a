"""From a service task to CAF's subjob status, and per-job summaries (`distributor.jobs.status`)."""

from __future__ import annotations

import pytest

from distributor.exit_info import TaskInstanceStatus as S
from distributor.jobs.model import JobStatus
from distributor.jobs.status import job_summaries, job_tag, subjob_status
from distributor.service.model import TaskInfo, TaskStatus


def _info(name: str, status: TaskStatus, code: S | None, job: str = "j") -> TaskInfo:
    return TaskInfo(name=name, status=status, instance_status=code, attempts=1, max_attempts=1,
                    message="", distributor_id=None, tags=frozenset({job_tag(job), "other"}),
                    owner=job, cluster="local")  # fmt: skip


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (TaskStatus.ACTIVE, None, JobStatus.INIT),  # waiting for dependencies
        (TaskStatus.ACTIVE, S.QUEUED, JobStatus.INIT),  # in the service, not the scheduler
        (TaskStatus.ACTIVE, S.INSTANTIATED, JobStatus.SUBMITTED),
        (TaskStatus.ACTIVE, S.LAUNCHED, JobStatus.SUBMITTED),
        (TaskStatus.ACTIVE, S.RUNNING, JobStatus.RUNNING),
        (TaskStatus.ACTIVE, S.TRIAGING, JobStatus.RUNNING),
        (TaskStatus.DONE, S.DONE, JobStatus.COMPLETED),
        (TaskStatus.FAILED, S.ERROR, JobStatus.FAILED),
        (TaskStatus.CANCELLED, S.KILLED_SELF, JobStatus.FAILED),
    ],
)
def test_each_task_state_is_one_subjob_status(
    status: TaskStatus, code: S | None, expected: JobStatus
) -> None:
    """The table of the module docstring."""
    assert subjob_status(_info("j_0", status, code)) is expected


def test_a_subjob_not_in_the_journal_is_init() -> None:
    """No task yet: init."""
    assert subjob_status(None) is JobStatus.INIT


def test_summaries_group_by_job_tag_with_the_lowest_status() -> None:
    """Tasks are grouped by their job tag (others ignored), in order of appearance; a job's
    status is the lowest of its subjobs' and its line counts them in CAF's order."""
    infos = [
        _info("b_0", TaskStatus.DONE, S.DONE, "b"),
        _info("a_0", TaskStatus.ACTIVE, S.RUNNING, "a"),
        _info("b_1", TaskStatus.FAILED, S.ERROR, "b"),
        _info("a_1", TaskStatus.DONE, S.DONE, "a"),
        TaskInfo(name="plain", status=TaskStatus.DONE, instance_status=S.DONE, attempts=1,
                 max_attempts=1, message="", distributor_id=None, tags=frozenset(), owner="",
                 cluster="local"),
    ]  # fmt: skip
    summaries = job_summaries(infos)
    assert [(s.name, s.status) for s in summaries] == [("b", "failed"), ("a", "running")]
    assert summaries[1].line() == "job a: running — 2 subjobs: running 1 · completed 1"
    assert summaries[0].to_json() == {
        "name": "b", "status": "failed", "counts": {"failed": 1, "completed": 1},
        "subjobs": {"b_0": "completed", "b_1": "failed"},
    }  # fmt: skip
