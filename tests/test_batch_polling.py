"""StatusTracker: one status command per cycle, adaptive interval, accounting, lost jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from structlog.testing import capture_logs

from distributor import (
    RemoteExitInfo,
    RemoteExitInfoNotAvailable,
    SchedulerError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import JobPhase, JobStatus, PollPolicy, StatusTracker, TrackedJob
from distributor.worker import ExitRecord, write_exit_record

POLICY = PollPolicy(
    min_interval=1.0,
    max_interval=8.0,
    growth=2.0,
    max_calls_per_minute=1000,
    accounting_interval=0.0,
    accounting_delay=10.0,
    lost_grace=60.0,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeScheduler:
    """A scheduler whose queue and accounting the test sets; counts the queries it answers."""

    def __init__(self) -> None:
        self.queue: dict[str, JobStatus] = {}
        self.accounting: dict[str, JobStatus] = {}
        self.accounting_down = False
        self.status_queries: list[list[str]] = []
        self.accounting_queries: list[list[str]] = []

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        self.status_queries.append(list(distributor_ids))
        return {i: self.queue[i] for i in distributor_ids if i in self.queue}

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        self.accounting_queries.append(list(distributor_ids))
        if self.accounting_down:
            raise SchedulerError("sacct failed", argv=["sacct"], returncode=1, stderr="db down")
        return {i: self.accounting[i] for i in distributor_ids if i in self.accounting}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        if status.state == "OK":
            return RemoteExitInfo(TaskInstanceStatus.DONE, "")
        return RemoteExitInfo(TaskInstanceStatus.ERROR, f"{status.state} via {status.source}")


def running(did: str) -> JobStatus:
    """A running status."""
    return JobStatus(did, JobPhase.RUNNING, "RUNNING", source="queue")


def final(did: str, state: str, source: str, *, complete: bool = True) -> JobStatus:
    """A final status."""
    return JobStatus(did, JobPhase.FINAL, state, source=source, complete=complete)


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock."""
    return Clock()


@pytest.fixture
def scheduler() -> FakeScheduler:
    """A scripted scheduler."""
    return FakeScheduler()


@pytest.fixture
def tracker(scheduler: FakeScheduler, clock: Clock) -> StatusTracker:
    """A tracker over the scripted scheduler."""
    return StatusTracker(scheduler, POLICY, clock=clock, cluster_name="test")


def test_one_status_query_per_cycle_for_all_jobs(
    tracker: StatusTracker, scheduler: FakeScheduler
) -> None:
    """A thousand jobs cost one status query per cycle, however often callers ask."""
    ids = [f"1_{i}" for i in range(1000)]
    for did in ids:
        tracker.track(did)
        scheduler.queue[did] = running(did)
    assert tracker.active() == set(ids)
    for did in ids:
        with pytest.raises(RemoteExitInfoNotAvailable, match="still running"):
            tracker.exit_info(did)
    assert len(scheduler.status_queries) == 1 and len(scheduler.status_queries[0]) == 1000
    assert tracker.stats.status_commands == tracker.stats.cycles == 1


def test_interval_grows_when_quiet_and_resets_on_change(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock
) -> None:
    """Quiet cycles double the interval up to the maximum; a change resets it."""
    tracker.track("1")
    scheduler.queue["1"] = running("1")
    assert tracker.refresh()  # first cycle: a change (status seen)
    assert tracker.interval == 1.0
    intervals = []
    for _ in range(5):
        clock.now += tracker.interval
        assert tracker.refresh()
        intervals.append(tracker.interval)
    assert intervals == [2.0, 4.0, 8.0, 8.0, 8.0]
    clock.now += 1.0
    assert not tracker.refresh()  # not due yet
    scheduler.queue["1"] = final("1", "OK", "queue")
    clock.now += 8.0
    assert tracker.refresh() and tracker.interval == 1.0
    assert tracker.exit_info("1").error_state == TaskInstanceStatus.DONE
    assert not tracker.refresh(force=True)  # nothing left to poll


def test_rate_cap_limits_status_commands(scheduler: FakeScheduler, clock: Clock) -> None:
    """No more than max_calls_per_minute cycles run in any minute, even when forced."""
    policy = PollPolicy(min_interval=0.0, max_calls_per_minute=3)
    tracker = StatusTracker(scheduler, policy, clock=clock)
    tracker.track("1")
    ran = [tracker.refresh(force=True) for _ in range(10)]
    assert ran.count(True) == 3 and tracker.stats.rate_limited == 7
    clock.now += 60.0
    assert tracker.refresh(force=True)


def test_final_queue_status_needs_no_accounting(
    tracker: StatusTracker, scheduler: FakeScheduler
) -> None:
    """A complete final status in the queue answer is classified without accounting."""
    tracker.track("1")
    scheduler.queue["1"] = final("1", "FAILED", "queue")
    info = tracker.exit_info("1")
    assert info.error_state == TaskInstanceStatus.ERROR and "queue" in info.error_message
    assert scheduler.accounting_queries == []


def test_jobs_gone_from_the_queue_are_looked_up_in_one_accounting_query(
    tracker: StatusTracker, scheduler: FakeScheduler
) -> None:
    """All jobs that left the queue go into one accounting query; rows are classified."""
    for did in ("1", "2", "3"):
        tracker.track(did)
    scheduler.accounting = {"1": final("1", "OK", "acct"), "2": final("2", "FAILED", "acct")}
    assert tracker.active() == set()
    assert scheduler.accounting_queries == [["1", "2", "3"]]
    assert tracker.exit_info("1").error_state == TaskInstanceStatus.DONE
    assert "acct" in tracker.exit_info("2").error_message
    with pytest.raises(RemoteExitInfoNotAvailable, match="waiting up to 10s for accounting"):
        tracker.exit_info("3")


def test_accounting_outage_falls_back_to_the_exit_record(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock, tmp_path: Path
) -> None:
    """With accounting down, the worker's record decides once the accounting delay is over."""
    path = tmp_path / "exit.json"
    write_exit_record(path, ExitRecord(returncode=3, exit_code=3, signal=None))
    tracker.track("1", record_path=path)
    scheduler.accounting_down = True
    with capture_logs() as logs:
        tracker.refresh()
    assert any(e["event"] == "accounting_unavailable" for e in logs)
    with pytest.raises(RemoteExitInfoNotAvailable):
        tracker.exit_info("1")
    clock.now += 10.0
    info = tracker.exit_info("1")
    assert info.error_state == TaskInstanceStatus.ERROR and info.finalized
    assert "exit record" in info.error_message and "status 3" in info.error_message


def test_lost_job_is_looked_for_until_the_grace_then_final_u_never_d(
    tracker: StatusTracker, clock: Clock, tmp_path: Path
) -> None:
    """Without any trace a job has no exit info until the grace ends, then a final U; it is
    reported lost exactly once, for its owner to cancel."""
    tracker.track("1", record_path=tmp_path / "missing.json")
    tracker.refresh()
    clock.now += 10.0
    with pytest.raises(RemoteExitInfoNotAvailable, match="declared lost at 60s"):
        tracker.exit_info("1")
    assert not tracker.drain().lost
    clock.now += 50.0
    settled = tracker.exit_info("1")
    assert settled.error_state == TaskInstanceStatus.UNKNOWN_ERROR and settled.finalized
    assert "lost" in settled.error_message and "cancelled" in settled.error_message
    news = tracker.drain()
    assert news.lost == ["1"] and [job.distributor_id for job in news.settled] == ["1"]
    assert not tracker.drain()


def test_a_lost_job_that_reappears_is_active_again(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock
) -> None:
    """A job back in the queue within the grace (controller failover) is tracked as before."""
    tracker.track("1")
    tracker.refresh()
    clock.now += 30.0
    with pytest.raises(RemoteExitInfoNotAvailable, match="still looking"):
        tracker.exit_info("1")
    scheduler.queue["1"] = running("1")
    clock.now += 10.0  # past the (grown) poll interval
    assert tracker.active() == {"1"}
    with pytest.raises(RemoteExitInfoNotAvailable, match="still running"):
        tracker.exit_info("1")
    clock.now += 100.0
    assert tracker.active() == {"1"} and not tracker.drain().lost


def test_settled_jobs_are_forgotten_after_their_owner_has_seen_them(
    scheduler: FakeScheduler, clock: Clock
) -> None:
    """A settled job leaves memory forget_after seconds after settling; a job tracked as
    settled is never polled."""
    tracker = StatusTracker(scheduler, PollPolicy(forget_after=30.0), clock=clock)
    scheduler.queue["1"] = final("1", "COMPLETED", "squeue")
    tracker.track("1")
    tracker.refresh()
    clock.now += 10.0
    assert [job.distributor_id for job in tracker.drain().settled] == ["1"]
    assert tracker.get("1") is not None
    clock.now += 21.0
    tracker.drain()
    assert tracker.get("1") is None and len(tracker) == 0
    done = RemoteExitInfo(TaskInstanceStatus.DONE, "")
    queries = len(scheduler.status_queries)
    tracker.track("2", info=done)
    assert tracker.exit_info("2") == done and not tracker.active()
    assert len(scheduler.status_queries) == queries and not tracker.drain()


def test_a_limit_the_worker_enforced_is_z_whatever_the_scheduler_says(
    tracker: StatusTracker, scheduler: FakeScheduler, tmp_path: Path
) -> None:
    """The worker's record of a memory kill wins over the scheduler's plain failure."""
    record = tmp_path / "exit.json"
    write_exit_record(
        record,
        ExitRecord(
            returncode=137, exit_code=None, signal="SIGKILL",
            exceeded="memory", limit=100 * 2**20, used=300 * 2**20,
        ),
    )  # fmt: skip
    scheduler.queue["1"] = final("1", "FAILED", "squeue")
    tracker.track("1", record_path=record)
    info = tracker.exit_info("1")
    assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR
    assert "memory limit of 100.0 MiB exceeded" in info.error_message


def test_terminated_job_that_vanished_is_killed(
    tracker: StatusTracker, scheduler: FakeScheduler
) -> None:
    """A terminated job that left no trace anywhere is K at once (cancelled while pending)."""
    tracker.track("1_5")
    scheduler.queue["1_5"] = JobStatus("1_5", JobPhase.QUEUED, "PENDING")
    assert tracker.active() == {"1_5"}
    assert tracker.mark_terminated(["1_5", "unknown"]) == ["1_5"]
    del scheduler.queue["1_5"]
    assert tracker.active() == set()  # polled although the interval had not passed
    info = tracker.exit_info("1_5")
    assert info.error_state == TaskInstanceStatus.KILLED_SELF and info.finalized


def test_terminated_running_job_that_vanished_says_it_ran(
    tracker: StatusTracker, scheduler: FakeScheduler
) -> None:
    """A job last seen running, terminated and gone without a trace, is K and not said to
    have been cancelled while pending (HTCondor removes a job's ad at once)."""
    tracker.track("7")
    scheduler.queue["7"] = JobStatus("7", JobPhase.RUNNING, "RUNNING")
    assert tracker.active() == {"7"}
    assert tracker.mark_terminated(["7"]) == ["7"]
    del scheduler.queue["7"]
    assert tracker.active() == set()
    info = tracker.exit_info("7")
    assert info.error_state == TaskInstanceStatus.KILLED_SELF and info.finalized
    assert "while running" in info.error_message
    assert "pending" not in info.error_message


def test_incomplete_final_status_prefers_accounting(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock
) -> None:
    """An incomplete final status is settled by accounting, or by itself after the delay."""
    tracker.track("1")
    tracker.track("2")
    scheduler.queue["1"] = final("1", "FAILED", "queue", complete=False)
    scheduler.queue["2"] = final("2", "FAILED", "queue", complete=False)
    scheduler.accounting["1"] = final("1", "MEMORY", "acct")
    tracker.refresh()
    assert "acct" in tracker.exit_info("1").error_message
    with pytest.raises(RemoteExitInfoNotAvailable):
        tracker.exit_info("2")
    clock.now += 10.0
    assert "queue" in tracker.exit_info("2").error_message


def test_unknown_ids_and_failed_status_commands(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock
) -> None:
    """Untracked ids raise UnknownDistributorIdError; a failing status query propagates."""
    with pytest.raises(UnknownDistributorIdError, match="test"):
        tracker.exit_info("nope")
    tracker.track("1")

    def broken(ids: Sequence[str]) -> Mapping[str, JobStatus]:
        raise SchedulerError("squeue failed")

    scheduler.query_status = broken  # type: ignore[method-assign,assignment]  # an outage
    with pytest.raises(SchedulerError):
        tracker.refresh()
    assert tracker.get("1") is not None and tracker.get("1").status is None  # type: ignore[union-attr]


def test_policy_rejects_inconsistent_values() -> None:
    """A grace shorter than the accounting delay, or min > max interval, is refused."""
    with pytest.raises(ValueError, match="lost_grace"):
        PollPolicy(accounting_delay=10, lost_grace=5)
    with pytest.raises(ValueError, match="interval"):
        PollPolicy(min_interval=5, max_interval=1)


class TrackerMachine(RuleBasedStateMachine):
    """Random scheduler behaviour never makes the tracker say D without evidence."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.scheduler = FakeScheduler()
        self.tracker = StatusTracker(self.scheduler, POLICY, clock=self.clock)
        self.ids = [str(i) for i in range(4)]
        for did in self.ids:
            self.tracker.track(did)
        self.success_seen: set[str] = set()
        self.settled: dict[str, RemoteExitInfo] = {}

    @rule(index=st.integers(0, 3), where=st.sampled_from(["queue", "acct", "gone", "running"]))
    def scheduler_changes(self, index: int, where: str) -> None:
        """The scheduler moves a job somewhere."""
        did = self.ids[index]
        self.scheduler.queue.pop(did, None)
        self.scheduler.accounting.pop(did, None)
        if where == "running":
            self.scheduler.queue[did] = running(did)
        elif where == "queue":
            self.scheduler.queue[did] = final(did, "FAILED", "queue")
        elif where == "acct":
            self.scheduler.accounting[did] = final(did, "OK", "acct")

    @rule(down=st.booleans())
    def accounting_outage(self, down: bool) -> None:
        """Accounting goes down or comes back."""
        self.scheduler.accounting_down = down

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 20.0, 70.0]))
    def time_passes_and_poll(self, seconds: float) -> None:
        """Time passes and a caller asks."""
        self.clock.now += seconds
        self.tracker.active()
        for did in self.ids:
            if did in self.scheduler.accounting and not self.scheduler.accounting_down:
                self.success_seen.add(did)

    @rule(index=st.integers(0, 3))
    def terminate(self, index: int) -> None:
        """The caller terminates a job."""
        self.tracker.mark_terminated([self.ids[index]])

    @invariant()
    def done_needs_evidence_and_final_info_never_changes(self) -> None:
        """D only after accounting reported success; settled exit info stays the same."""
        for did in self.ids:
            job = self.tracker.get(did)
            assert job is not None
            if job.info is not None and job.info.error_state == TaskInstanceStatus.DONE:
                assert did in self.success_seen or did in self.scheduler.accounting
            if did in self.settled:
                assert job.info == self.settled[did]
            elif job.settled:
                assert job.info is not None
                self.settled[did] = job.info


TestTrackerMachine = TrackerMachine.TestCase
TestTrackerMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_a_job_seen_running_then_gone_is_not_still_running(
    tracker: StatusTracker, scheduler: FakeScheduler, clock: Clock
) -> None:
    """Once a running job has left the queue its last status is history, not an answer."""
    scheduler.queue["1"] = running("1")
    tracker.track("1")
    tracker.refresh()
    del scheduler.queue["1"]
    clock.now += 20.0
    with pytest.raises(RemoteExitInfoNotAvailable, match="left the queue"):
        tracker.exit_info("1")
