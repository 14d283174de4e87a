"""`Service.retry`: failed tasks run again, finished ones are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.exit_info import TaskInstanceStatus
from distributor.service import (
    Cluster,
    NotRetriableError,
    Service,
    ServiceConfig,
    TaskSpec,
    TaskStatus,
    UnknownTaskError,
)
from distributor.service.journal import Journal
from distributor.testing.faults import FakeDistributor, FakeLookupDistributor

S = TaskInstanceStatus
CONFIG = ServiceConfig(retry_delay=0.0)


def _end_all(svc: Service, fake: FakeDistributor, failing: set[str]) -> None:
    """Run cycles, ending each job D (E for the tasks in `failing`), until every task ended."""
    for _ in range(20):
        svc.step()
        for distributor_id in fake.active_ids():
            task = FakeDistributor.step_command(fake.jobs[distributor_id])
            fake.finish(distributor_id, S.ERROR if task in failing else S.DONE)
        if svc.summary().finished:
            return
    raise AssertionError(svc.summary())


def _graph() -> list[TaskSpec]:
    """ok; bad ← after-bad ← last; bad is failed twice over, after-bad never runs."""
    return [
        TaskSpec(name="ok", command="ok", max_attempts=1),
        TaskSpec(name="bad", command="bad", max_attempts=2),
        TaskSpec(name="after-bad", command="after-bad", depends_on=["bad"]),
        TaskSpec(name="last", command="last", depends_on=["after-bad", "ok"]),
    ]


def test_retrying_failed_tasks_reruns_them_and_what_they_held_back(tmp_path: Path) -> None:
    """retry(failed=True) reopens the failed task and its dependants cancelled because of it;
    the task that ended done is not run again; attempts are numbered on, with a fresh
    allowance."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add(_graph())
        _end_all(svc, fake, failing={"bad"})
        assert {i.name: i.status for i in svc.tasks()} == {
            "ok": "done", "bad": "failed", "after-bad": "cancelled", "last": "cancelled",
        }  # fmt: skip
        submitted = len(fake.submissions)
        assert svc.retry(failed=True) == ["bad", "after-bad", "last"]
        assert svc.task("after-bad").waiting_for == ("bad",)
        _end_all(svc, fake, failing=set())
        infos = {i.name: i for i in svc.tasks()}
        attempts = [a.attempt for a in svc.attempts("bad")]
    assert all(info.status == TaskStatus.DONE for info in infos.values())
    assert (infos["bad"].attempts, infos["bad"].max_attempts) == (3, 4)
    assert attempts == [1, 2, 3]
    assert len(fake.submissions) - submitted == 3, "ok is not run again"


def test_retrying_by_name_checks_the_names(tmp_path: Path) -> None:
    """A name not in the journal, or a task that is done or active, is refused."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add(_graph())
        with pytest.raises(NotRetriableError, match="'ok' is active"):
            svc.retry("ok")
        _end_all(svc, fake, failing={"bad"})
        with pytest.raises(UnknownTaskError, match="nosuch"):
            svc.retry(["nosuch"])
        with pytest.raises(NotRetriableError, match="'ok' is done"):
            svc.retry("ok")
        assert svc.retry("after-bad") == ["after-bad", "last"]
        infos = {i.name: i for i in svc.tasks()}
    assert infos["after-bad"].status == TaskStatus.CANCELLED, "bad has still failed"
    assert infos["after-bad"].message == "not run: dependency 'bad' ended failed"


def test_a_retry_asked_for_through_the_journal_reaches_the_controller(tmp_path: Path) -> None:
    """A control request written by another process is applied on the next cycle."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add(TaskSpec(name="bad", command="bad", max_attempts=1))
        _end_all(svc, fake, failing={"bad"})
        client = Journal(tmp_path / "j.db", role="client")
        client.add_control("retry", "name", "bad")
        client.close()
        _end_all(svc, fake, failing=set())
        info = svc.task("bad")
        ends = [e.new for e in svc.events() if e.kind == "task"]
    assert (info.status, info.attempts) == (TaskStatus.DONE, 2)
    assert ends == ["active", "failed", "active", "done"]
