"""Triage and reconciliation: lost jobs, late exit info, strangers, stale resets, outages."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from distributor.batch import BatchDistributor, PollPolicy
from distributor.exit_info import TaskInstanceStatus
from distributor.service import (
    Cluster,
    InDoubtPolicy,
    Service,
    ServiceConfig,
    TaskSpec,
    TaskStatus,
    Throttle,
)
from distributor.testing.faults import (
    FakeDistributor,
    FakeJob,
    FakeLookupDistributor,
    SimulatedCrash,
)
from tests.memory_scheduler import MemoryScheduler

S = TaskInstanceStatus


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _service(tmp_path: Path, fake: FakeDistributor, clock: Clock, **config: Any) -> Service:
    # retries go at once (retry_delay=0): these tests are about what is retried, not when
    settings: dict[str, Any] = {"lost_grace": 60.0, "exit_info_deadline": 30.0,
                                "reconcile_interval": 10.0, "retry_delay": 0.0}  # fmt: skip
    settings.update(config)
    config_ = ServiceConfig(**settings)
    return Service(tmp_path / "j.db", Cluster(fake), config=config_, clock=clock)


def _one_job(svc: Service, fake: FakeDistributor) -> str:
    svc.add(TaskSpec(name="t", command="x", max_attempts=2))
    svc.step()
    (distributor_id,) = fake.active_ids()
    return distributor_id


def test_a_lost_job_becomes_unknown_after_the_grace_period(tmp_path: Path) -> None:
    """No listing and no exit info: T at once, U (and a retry) only after lost_grace seconds."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        fake.lose(_one_job(svc, fake))
        svc.step()
        assert svc.task("t").instance_status == S.TRIAGING
        clock.now += 59
        svc.step()
        assert svc.task("t").instance_status == S.TRIAGING
        clock.now += 2
        svc.step()
        info = svc.task("t")
        history = [e.new for e in svc.events() if e.kind == "instance" and e.attempt == 1]
    assert history == ["Q", "I", "O", "T", "U"]
    assert info.attempts == 2 and info.status == TaskStatus.ACTIVE


def test_non_final_exit_info_is_asked_again_until_the_deadline(tmp_path: Path) -> None:
    """A non-finalized answer keeps the instance in triage; after the deadline it is taken."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        distributor_id = _one_job(svc, fake)
        fake.finish(distributor_id, S.ERROR, "exit 3")
        fake.inject("exit_info", "not_final", "not_final", "not_final")
        svc.step()
        clock.now += 10
        svc.step()
        assert svc.task("t").instance_status == S.TRIAGING
        clock.now += 25
        svc.step()
        info = svc.task("t")
        first = [e for e in svc.events() if e.attempt == 1 and e.new == "E"]
    assert info.attempts == 2
    assert "not finalized within 30s" in first[0].message


def test_late_final_exit_info_ends_triage_early(tmp_path: Path) -> None:
    """Once the answer is final it is used at once."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        fake.finish(_one_job(svc, fake))
        fake.inject("exit_info", "not_final")
        svc.step()
        svc.step()
        assert svc.task("t").status == TaskStatus.DONE


def test_strangers_under_our_names_are_cancelled_and_logged(tmp_path: Path) -> None:
    """A job under one of this journal's submission names with an unrecorded id is cancelled."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        mine = _one_job(svc, fake)
        name = fake.jobs[mine].name
        fake.jobs["stray-1"] = FakeJob("stray-1", name, 1, "x", {})
        fake.jobs["other-1"] = FakeJob("other-1", "someone_else", None, "x", {})
        clock.now += 11
        with capture_logs() as logs:
            svc.step()
    assert fake.terminated == ["stray-1"]
    assert fake.jobs[mine].state == "queued"
    assert any(e["event"] == "stranger_cancelled" and e["distributor_id"] == "stray-1"
               for e in logs)  # fmt: skip


def test_stale_queued_and_running_instances_are_reset(tmp_path: Path) -> None:
    """Queued or running past the limits: terminated, ended U and retried."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock, max_queued_seconds=100, max_running_seconds=50) as svc:
        svc.add([TaskSpec(name="queued", command="a"), TaskSpec(name="running", command="b")])
        svc.step()
        queued, running = fake.active_ids()
        fake.run(running)
        svc.step()
        clock.now += 60
        svc.step()
        assert svc.task("running").attempts == 2
        assert svc.task("queued").attempts == 1
        clock.now += 50
        svc.step()
        assert svc.task("queued").attempts == 2
        messages = [e.message for e in svc.events() if e.new == "U"]
    assert {queued, running} <= set(fake.terminated)
    assert any("running for 60s, longer than the limit of 50s" in m for m in messages)
    assert any("queued for 110s, longer than the limit of 100s" in m for m in messages)


def test_an_outage_fails_nothing_and_submits_nothing(tmp_path: Path) -> None:
    """While the scheduler cannot be polled, no instance changes and nothing is submitted."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        distributor_id = _one_job(svc, fake)
        svc.add(TaskSpec(name="later", command="y"))
        fake.lose(distributor_id)
        for _ in range(20):
            fake.inject("poll", "error")
        for _ in range(20):
            clock.now += 30
            report = svc.step()
            assert report.unreachable == ("fake",)
            assert report.transitions == 0
        assert len(fake.submissions) == 1
        svc.step()
        assert len(fake.submissions) == 2


def test_queueing_errors_end_fatal_and_are_terminated(tmp_path: Path) -> None:
    """A queued instance that can never start ends F and is terminated."""

    class Stuck(FakeLookupDistributor):
        def get_queueing_errors(self, distributor_ids: list[str]) -> dict[str, str]:  # type: ignore[override]
            return dict.fromkeys(distributor_ids, "requested node configuration is not available")

    fake, clock = Stuck("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        distributor_id = _one_job(svc, fake)
        clock.now += 11
        svc.step()
        info = svc.task("t")
    assert info.status == TaskStatus.FAILED
    assert "can never start: requested node configuration" in info.message
    assert fake.terminated == [distributor_id]


def test_in_doubt_without_lookup_retries_and_says_so(tmp_path: Path) -> None:
    """Without lookup, an unseen submission outcome is U (retried) with a warning."""
    fake, clock = FakeDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=2))
        fake.inject("submit", "lost_answer")
        svc.step()
        clock.now += 2
        with capture_logs() as logs:
            svc.step()
        info = svc.task("t")
    assert info.attempts == 2
    assert any(e["event"] == "submission_in_doubt" for e in logs)
    assert len(fake.jobs) == 2, "at-least-once: the doubtful job and its retry both exist"


def test_in_doubt_without_lookup_can_be_made_at_most_once(tmp_path: Path) -> None:
    """With in_doubt='fail', an unseen submission outcome fails the task instead."""
    fake, clock = FakeDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock, in_doubt=InDoubtPolicy.FAIL) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=3))
        fake.inject("submit", "lost_answer")
        svc.step()
        clock.now += 2
        svc.step()
        info = svc.task("t")
    assert info.status == TaskStatus.FAILED
    assert "in doubt" in info.message
    assert len(fake.jobs) == 1


def test_in_doubt_with_lookup_records_the_job_instead_of_submitting_again(tmp_path: Path) -> None:
    """With lookup, the doubtful submission is found by name and adopted: one job in total."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    with _service(tmp_path, fake, clock) as svc:
        svc.add(TaskSpec(name="t", command="x"))
        fake.inject("submit", "lost_answer")
        svc.step()
        clock.now += 2
        svc.step()
        info = svc.task("t")
    assert (info.attempts, info.instance_status, len(fake.jobs)) == (1, S.LAUNCHED, 1)


def test_a_refused_submission_is_w_and_backs_off(tmp_path: Path) -> None:
    """A refusal ends the attempt W, retries it, and pauses submissions to that cluster."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    throttle = Throttle(submit_chunk=10)
    config = ServiceConfig(retry_delay=0.0)
    svc = Service(tmp_path / "j.db", Cluster(fake, throttle=throttle), config=config, clock=clock)
    with svc:
        svc.add(TaskSpec(name="t", command="x"))
        fake.inject("submit", "refuse")
        svc.step()
        svc.step()
        assert len(fake.jobs) == 0, "backing off"
        clock.now += 1.5
        svc.step()
        info = svc.task("t")
    assert (info.attempts, len(fake.jobs)) == (2, 1)


def test_a_withdrawn_submission_that_appears_late_is_cancelled(tmp_path: Path) -> None:
    """A job created late under a withdrawn submission name (a dead submit call) is cancelled."""
    fake, clock = FakeLookupDistributor("fake"), Clock()
    first = _service(tmp_path, fake, clock)
    first.add(TaskSpec(name="t", command="x"))
    fake.inject("submit", "crash_before")
    with pytest.raises(SimulatedCrash):
        first.step()
    first._journal.close()  # the controller is gone; its submit call is still on its way
    with _service(tmp_path, fake, clock) as svc:
        svc.step()  # in doubt, not found: withdrawn, queued again and submitted anew
        with sqlite3.connect(tmp_path / "j.db") as db:
            (old_name,) = db.execute(
                "SELECT name FROM batches WHERE state = 'abandoned'"
            ).fetchone()
        fake.jobs["late-1"] = FakeJob("late-1", old_name, None, "x", {})
        clock.now += 11
        with capture_logs() as logs:
            svc.step()
    assert fake.terminated == ["late-1"]
    assert any(e["event"] == "stranger_cancelled" for e in logs)
    assert [j.name for j in fake.jobs.values() if j.state == "queued"] != [old_name]


def _batch(
    tmp_path: Path, scheduler: MemoryScheduler, clock: Clock, *, lost_grace: float
) -> BatchDistributor:
    """A batch distributor over `scheduler` that polls on every call."""
    policy = PollPolicy(
        min_interval=0.0,
        max_interval=0.0,
        max_calls_per_minute=10**6,
        accounting_interval=0.0,
        accounting_delay=30.0,
        lost_grace=lost_grace,
    )
    return BatchDistributor("mem", scheduler, submit_root=tmp_path / "root",
                            poll_policy=policy, worker="/w", clock=clock)  # fmt: skip


def test_the_distributor_alone_decides_a_lost_job_so_it_never_runs_twice(
    tmp_path: Path,
) -> None:
    """A job the scheduler stops listing for longer than the service's own deadlines, and
    then lists again, is neither retried beside itself nor lost: the batch distributor owns
    the decision (one clock), and the service waits for it."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = _batch(tmp_path, scheduler, clock, lost_grace=600.0)
    config = ServiceConfig(lost_grace=60.0, exit_info_deadline=30.0, reconcile_interval=10.0)
    with Service(tmp_path / "j.db", Cluster(distributor), config=config, clock=clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=3))
        svc.step()
        (did,) = distributor.get_submitted_or_running()
        scheduler.run(did)
        svc.step()
        scheduler.vanish(did)  # a controller failover: the job is not listed for a while
        for _ in range(50):  # 500 s: past every clock the service used to keep itself
            clock.now += 10
            svc.step()
            assert svc.task("t").instance_status == S.TRIAGING
        scheduler.reappear(did)
        clock.now += 10
        svc.step()
        assert svc.task("t").instance_status == S.RUNNING
        scheduler.end(did)
        clock.now += 10
        svc.step()
        info = svc.task("t")
    assert info.status == TaskStatus.DONE and info.attempts == 1
    assert len(scheduler.submissions) == 1


def test_a_lost_job_is_cancelled_before_its_retry(tmp_path: Path) -> None:
    """When the distributor declares a job lost it cancels it, and the retry follows."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = _batch(tmp_path, scheduler, clock, lost_grace=120.0)
    config = ServiceConfig(lost_grace=60.0, exit_info_deadline=30.0, reconcile_interval=10.0,
                           retry_delay=0.0)  # fmt: skip
    with Service(tmp_path / "j.db", Cluster(distributor), config=config, clock=clock) as svc:
        svc.add(TaskSpec(name="t", command="x", max_attempts=3))
        svc.step()
        (did,) = distributor.get_submitted_or_running()
        scheduler.vanish(did)
        for _ in range(13):
            clock.now += 10
            svc.step()
        info = svc.task("t")
    assert did in scheduler.cancelled
    assert info.attempts == 2 and len(scheduler.submissions) == 2
