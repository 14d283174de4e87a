"""BatchDistributor over an in-memory scheduler: intents, lookup by name, lost jobs, outcome
logs, forgetting, chunked arrays and refusals."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from distributor import (
    RemoteExitInfoNotAvailable,
    ResourceError,
    SchedulerError,
    SubmissionError,
    SupportsLookupByName,
    SupportsLostTracking,
    SupportsRunningQuery,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import (
    TERMINATION_ATTEMPTS,
    BatchDistributor,
    BatchJob,
    BatchScheduler,
    CommandRunner,
    JobStatus,
    PollPolicy,
)
from distributor.testing.faults import SimulatedCrash
from distributor.worker import StartRecord, write_start_record
from distributor.worker.proc import process_start_time
from tests.memory_scheduler import MemoryScheduler

POLICY = PollPolicy(
    min_interval=0.0,
    max_interval=0.0,
    max_calls_per_minute=100_000,
    accounting_interval=0.0,
    accounting_delay=10.0,
    lost_grace=60.0,
    forget_after=100.0,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def make(
    root: Path, scheduler: MemoryScheduler, clock: Clock, **options: object
) -> BatchDistributor:
    """A distributor on `root` over `scheduler`."""
    return BatchDistributor(
        "mem",
        scheduler,
        submit_root=root,
        poll_policy=POLICY,
        worker="/opt/distributor-worker",
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def test_it_is_every_optional_capability() -> None:
    """A batch distributor can run-query, look up by name and decide lost jobs itself."""
    scheduler: BatchScheduler = MemoryScheduler()
    distributor = BatchDistributor("mem", scheduler, submit_root="/tmp/x", worker="/w")
    assert isinstance(distributor, SupportsRunningQuery)
    assert isinstance(distributor, SupportsLookupByName)
    assert isinstance(distributor, SupportsLostTracking) and distributor.lost_grace == 300.0


def test_a_submission_whose_answer_was_lost_is_found_by_name(tmp_path: Path) -> None:
    """Killed inside the submit command, a restarted distributor finds the job by its name
    with one scheduler call, and then answers for its ids like any other."""
    scheduler, clock = MemoryScheduler(), Clock()
    first = make(tmp_path, scheduler, clock)
    scheduler.crash_after_submit = True
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor("true", "dsv_ab_1_x", {}, 3)
    second = make(tmp_path, scheduler, clock)
    assert second.find_by_name(["dsv_ab_1_x", "never"]) == {
        "dsv_ab_1_x": {0: "1.0", 1: "1.1", 2: "1.2"}
    }
    assert scheduler.calls["find_jobs"] == 1
    assert second.find_by_name(["dsv_ab_1_x"]) == {"dsv_ab_1_x": {0: "1.0", 1: "1.1", 2: "1.2"}}
    assert scheduler.calls["find_jobs"] == 1, "a recorded submission needs no scheduler call"
    scheduler.end("1.1")
    assert make(tmp_path, scheduler, clock).get_remote_exit_info("1.1").error_state == "D"


def test_recorded_submissions_are_found_without_asking_the_scheduler(tmp_path: Path) -> None:
    """Every chunk of an array and every submission under a name is reported, by step."""
    scheduler, clock = MemoryScheduler(limit=2), Clock()
    distributor = make(tmp_path, scheduler, clock)
    steps = distributor.submit_array_to_batch_distributor("true", "arr", {}, 5)
    single = distributor.submit_to_batch_distributor("true", "one", {})
    found = make(tmp_path, scheduler, clock).find_by_name(["arr", "one"])
    assert found == {"arr": steps, "one": {0: single}}
    assert steps == {0: "1.0", 1: "1.1", 2: "2.0", 3: "2.1", 4: "3.0"}
    assert scheduler.calls["find_jobs"] == 0 and scheduler.calls["array_limit"] == 1


def test_a_submission_never_made_is_not_found(tmp_path: Path) -> None:
    """An intent whose job the scheduler does not know, and that left no record, was never
    submitted: the name is absent (the service may submit again)."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    distributor.submit_root.ensure()
    task_dir = distributor.submit_root.new_task_dir("ghost")
    distributor.submit_root.write_intent(task_dir, name="ghost", job_name="ghost", array=None)
    assert distributor.find_by_name(["ghost"]) == {}
    assert scheduler.calls["find_jobs"] == 1


def test_a_job_the_scheduler_forgot_is_linked_by_its_start_record(tmp_path: Path) -> None:
    """The task's own start record names its id when the scheduler lists it no more."""
    scheduler, clock = MemoryScheduler(), Clock()
    first = make(tmp_path, scheduler, clock)
    scheduler.crash_after_submit = True
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("true", "old", {})
    job = scheduler.submissions[-1]
    write_start_record(job.task_dir / "started.json", StartRecord(distributor_id="1"))
    del scheduler.jobs["1"]
    assert make(tmp_path, scheduler, clock).find_by_name(["old"]) == {"old": {0: "1"}}


def test_a_definite_refusal_leaves_nothing_and_raises_submission_error(tmp_path: Path) -> None:
    """A submit command that said no: SubmissionError with its stderr, no directory, no name."""
    scheduler, clock = MemoryScheduler(), Clock()

    def refuse(job: BatchJob) -> str:
        raise SchedulerError("sbatch failed", argv=["sbatch"], returncode=1, stderr="bad qos")

    scheduler.submit = refuse  # type: ignore[method-assign]
    distributor = make(tmp_path, scheduler, clock)
    with pytest.raises(SubmissionError, match="bad qos"):
        distributor.submit_to_batch_distributor("true", "no", {})
    assert distributor.find_by_name(["no"]) == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("no-")]


def test_a_timed_out_submission_is_in_doubt_not_refused(tmp_path: Path) -> None:
    """A timeout raises SchedulerError (not SubmissionError) and keeps the intent, so the
    job it may have created is found by name afterwards."""
    scheduler, clock = MemoryScheduler(), Clock()
    real_submit = scheduler.submit

    def accept_then_time_out(job: BatchJob) -> str:
        real_submit(job)
        raise SchedulerError("sbatch timed out after 60s", argv=["sbatch"], timed_out=True)

    scheduler.submit = accept_then_time_out  # type: ignore[method-assign]
    distributor = make(tmp_path, scheduler, clock)
    with pytest.raises(SchedulerError, match="in doubt") as caught:
        distributor.submit_to_batch_distributor("true", "slow", {})
    assert not isinstance(caught.value, SubmissionError)
    assert distributor.find_by_name(["slow"]) == {"slow": {0: "1"}}


def test_a_refused_chunk_cancels_the_chunks_before_it(tmp_path: Path) -> None:
    """Chunks of 2: the third chunk is refused, the first two are cancelled and reported K."""
    scheduler, clock = MemoryScheduler(limit=2), Clock()
    real_submit = scheduler.submit

    def refuse_third(job: BatchJob) -> str:
        if job.array is not None and job.array[0] == 4:
            raise SchedulerError("qsub failed", argv=["qsub"], returncode=1, stderr="limit")
        return real_submit(job)

    scheduler.submit = refuse_third  # type: ignore[method-assign]
    distributor = make(tmp_path, scheduler, clock)
    with pytest.raises(SubmissionError):
        distributor.submit_array_to_batch_distributor("true", "big", {}, 5)
    assert scheduler.cancelled == ["1", "2"]
    assert distributor.get_remote_exit_info("1.0").error_state == TaskInstanceStatus.KILLED_SELF


def test_a_lost_job_is_decided_by_the_distributor_and_cancelled(tmp_path: Path) -> None:
    """No trace: not available until the grace ends, then a final U and a cancel, so it
    cannot come back and run beside its retry."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    did = distributor.submit_to_batch_distributor("true", "t", {})
    assert distributor.get_submitted_or_running([did]) == {did}
    scheduler.vanish(did)
    assert distributor.get_submitted_or_running([did]) == set()
    clock.now += 30
    with pytest.raises(RemoteExitInfoNotAvailable, match="still looking"):
        distributor.get_remote_exit_info(did)
    assert scheduler.cancelled == []
    clock.now += 31
    info = distributor.get_remote_exit_info(did)
    assert info.error_state == TaskInstanceStatus.UNKNOWN_ERROR and info.finalized
    assert scheduler.cancelled == [did]


def test_a_job_cancelled_while_pending_stays_k_after_a_restart(tmp_path: Path) -> None:
    """A termination is written down: a new distributor reports K for a cancelled pending
    task that left no trace in the scheduler (not a lost U)."""
    scheduler, clock = MemoryScheduler(), Clock()
    first = make(tmp_path, scheduler, clock)
    did = first.submit_to_batch_distributor("true", "t", {})
    first.terminate_task_instances([did])
    scheduler.vanish(did)  # a pending job cancelled before it ran leaves no trace
    clock.now += 1000
    second = make(tmp_path, scheduler, clock)
    info = second.get_remote_exit_info(did)
    assert info.error_state == TaskInstanceStatus.KILLED_SELF, info


def test_decided_exit_info_survives_forgetting_and_restarts(tmp_path: Path) -> None:
    """A settled job leaves memory after forget_after; asked again, the same answer comes
    from the outcome log, without a scheduler call."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    steps = distributor.submit_array_to_batch_distributor("true", "a", {}, 3)
    for did in steps.values():
        scheduler.end(did, "FAILED")
    assert not distributor.get_submitted_or_running()
    first = distributor.get_remote_exit_info(steps[1])
    assert first.error_state == TaskInstanceStatus.ERROR
    clock.now += 101
    distributor.get_submitted_or_running([])
    assert len(distributor.tracker) == 0
    del scheduler.jobs["1"]  # the scheduler has forgotten it too
    calls = scheduler.calls["status"]
    assert distributor.get_remote_exit_info(steps[1]) == first
    assert make(tmp_path, scheduler, clock).get_remote_exit_info(steps[2]) == first
    assert scheduler.calls["status"] == calls


def test_unknown_and_hostile_ids_are_refused(tmp_path: Path) -> None:
    """Ids never issued on this root, or not ids at all, are unknown."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    distributor.submit_to_batch_distributor("true", "t", {})
    for bogus in ["2", "1.0", "../../etc", "1; rm -rf /", ""]:
        with pytest.raises(UnknownDistributorIdError):
            distributor.get_remote_exit_info(bogus)
    assert distributor.get_submitted_or_running(["1; rm -rf /"]) == set()


def test_terminating_every_task_names_the_job_once(tmp_path: Path) -> None:
    """All unfinished tasks of an array wanted: one target, the job key; some: the ids."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    steps = distributor.submit_array_to_batch_distributor("true", "a", {}, 3)
    scheduler.end(steps[0])
    distributor.get_submitted_or_running()
    distributor.terminate_task_instances([steps[1]])
    distributor.terminate_task_instances([steps[2]])
    assert scheduler.cancelled == [steps[1], "1"]


def test_worker_limits_are_in_the_job_script(tmp_path: Path) -> None:
    """The job script has the worker enforce the request's memory and runtime."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    distributor.submit_to_batch_distributor("true", "t", {"memory": "1G", "runtime": "90s"})
    script = (scheduler.submissions[0].task_dir / "job.sh").read_text()
    assert "--memory-limit 1073741824" in script and "--runtime-limit 90" in script
    assert "--started" in script


def test_a_lookup_waits_while_the_submit_command_may_still_run(tmp_path: Path) -> None:
    """The controller died while its submit command ran: while that process lives, the job
    may yet appear, so the lookup says "ask again"; once it has ended without a job, the
    submission was never made."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    task_dir = distributor.submit_root.new_task_dir("slow")
    distributor.submit_root.write_intent(task_dir, name="slow", job_name="slow", array=None)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        distributor.submit_root.record_submitter(
            task_dir, host=socket.gethostname(), pid=sleeper.pid,
            ticks=process_start_time(sleeper.pid),
        )  # fmt: skip
        with pytest.raises(SchedulerError, match="may still be running"):
            distributor.find_by_name(["slow"])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert distributor.find_by_name(["slow"]) == {}


def test_every_submission_records_its_submit_process(tmp_path: Path) -> None:
    """A submit command run through the runner reports its pid into the task directory."""
    recorded: list[dict[str, object] | None] = []

    class RunsSubmit(MemoryScheduler):
        def submit(self, job: BatchJob) -> str:
            CommandRunner().submit(["true"])
            recorded.append(distributor.submit_root.submitter(job.task_dir))
            return super().submit(job)

    scheduler, clock = RunsSubmit(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    distributor.submit_to_batch_distributor("true", "t", {})
    (process,) = recorded
    assert process is not None and process["host"] == socket.gethostname()
    assert isinstance(process["pid"], int) and process["pid"] > 0


def test_an_explicit_array_cap_serves_when_the_scheduler_cannot_be_asked(tmp_path: Path) -> None:
    """The scheduler's array limit is unreadable: max_array_size alone sizes the chunks;
    without one, the error says why arrays cannot be submitted."""
    scheduler, clock = MemoryScheduler(), Clock()

    def unreadable() -> int:
        raise SchedulerError("bparams failed", argv=["bparams"], returncode=255)

    scheduler.array_limit = unreadable  # type: ignore[method-assign]
    capped = make(tmp_path / "a", scheduler, clock, max_array_size=2)
    assert len(capped.submit_array_to_batch_distributor("true", "a", {}, 5)) == 5
    assert len(scheduler.submissions) == 3
    with pytest.raises(SchedulerError, match="bparams"):
        make(tmp_path / "b", scheduler, clock).submit_array_to_batch_distributor("true", "b", {}, 2)


class DeafScheduler(MemoryScheduler):
    """Ignores plain cancels; a forced one works from the second request."""

    def __init__(self) -> None:
        super().__init__()
        self.forced: list[list[str]] = []

    def cancel(self, targets: Sequence[str]) -> None:
        self.cancelled.extend(targets)

    def force_cancel(self, targets: Sequence[str]) -> None:
        self.forced.append(list(targets))
        if len(self.forced) >= 2:
            super().cancel(targets)


def test_a_termination_without_effect_is_repeated_with_force(tmp_path: Path) -> None:
    """A terminated job still listed `termination_retry` seconds later is force-cancelled,
    the wait doubling, until the scheduler drops it; then it ends K."""
    scheduler, clock = DeafScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock, termination_retry=10.0)
    ids = list(distributor.submit_array_to_batch_distributor("sleep 1", "a", {}, 2).values())
    scheduler.run(ids[0])
    distributor.get_submitted_or_running(ids)
    start = clock.now
    with capture_logs() as logs:
        distributor.terminate_task_instances(ids)

        def poll_at(offset: float) -> set[str]:
            clock.now = start + offset
            return distributor.get_submitted_or_running(ids)

        assert poll_at(9.9) == set(ids) and scheduler.forced == []
        assert poll_at(10.0) == set(ids) and scheduler.forced == [["1"]]
        assert poll_at(29.9) == set(ids) and scheduler.forced == [["1"]]  # waits 20 s
        poll_at(30.0)
        assert poll_at(30.0) == set() and scheduler.forced == [["1"], ["1"]]
    assert [e["event"] for e in logs].count("termination_repeated") == 2
    assert {distributor.get_remote_exit_info(i).error_state for i in ids} == {"K"}


def test_an_ineffective_termination_is_given_up_and_logged(tmp_path: Path) -> None:
    """After TERMINATION_ATTEMPTS requests the distributor stops and logs an error; a refused
    forced cancel is followed by a plain one; failures are logged, never raised from a poll."""
    scheduler, clock = DeafScheduler(), Clock()

    def refuse(targets: Sequence[str]) -> None:
        scheduler.forced.append(list(targets))
        raise SchedulerError("qdel -f refused", argv=["qdel", "-f"], returncode=1)

    def fail(targets: Sequence[str]) -> None:
        scheduler.cancelled.extend(targets)
        if len(scheduler.cancelled) > 2:  # the first request and one plain repeat get through
            raise SchedulerError("qdel: cannot connect", argv=["qdel"], returncode=2)

    scheduler.force_cancel = refuse  # type: ignore[method-assign]
    scheduler.cancel = fail  # type: ignore[method-assign]
    distributor = make(tmp_path, scheduler, clock, termination_retry=10.0)
    did = distributor.submit_to_batch_distributor("sleep 1", "t", {})
    distributor.get_submitted_or_running([did])
    with capture_logs() as logs:
        distributor.terminate_task_instances([did])
        for _hour in range(1, 48):
            clock.now += 3600.0
            assert distributor.get_submitted_or_running([did]) == {did}
    assert len(scheduler.forced) == TERMINATION_ATTEMPTS - 1
    assert len(scheduler.cancelled) == TERMINATION_ATTEMPTS
    events = [e["event"] for e in logs]
    assert events.count("termination_force_refused") == TERMINATION_ATTEMPTS - 1
    assert events.count("termination_repeated") == 1
    assert events.count("termination_repeat_failed") == TERMINATION_ATTEMPTS - 2
    assert events.count("termination_ineffective") == 1


def test_queueing_errors_ask_the_scheduler_about_queued_jobs_only(tmp_path: Path) -> None:
    """Only queued jobs go to the scheduler's queueing_errors, whose answer is passed on."""
    asked: list[list[str]] = []

    class Picky(MemoryScheduler):
        def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
            asked.append(sorted(statuses))
            return {did: "never" for did in statuses if did.endswith(".1")}

    scheduler, clock = Picky(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    ids = list(distributor.submit_array_to_batch_distributor("true", "a", {}, 3).values())
    scheduler.run(ids[0])
    assert distributor.get_queueing_errors(ids) == {"1.1": "never"}
    assert asked == [["1.1", "1.2"]]


def test_start_prunes_expired_task_directories(tmp_path: Path) -> None:
    """`start` deletes task directories unchanged for `retention` seconds with their index
    entries and name listings; a fresh one, and everything under retention=None, stay."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    distributor.submit_to_batch_distributor("true", "old", {})
    expired = distributor.submit_root.lookup("1")
    assert expired is not None
    for path in [*expired.path.iterdir(), expired.path]:
        os.utime(path, (1, 1))
    fresh = distributor.submit_root.new_task_dir("fresh")
    make(tmp_path, scheduler, clock, retention=None).start()
    assert expired.path.exists()
    distributor.start()
    assert not expired.path.exists() and distributor.submit_root.lookup("1") is None
    assert distributor.find_by_name(["old"]) == {} and fresh.exists()


@pytest.mark.parametrize("retention", [0, -1.0, float("nan")])
def test_retention_must_be_positive(tmp_path: Path, retention: float) -> None:
    """A retention that would delete everything at once is refused, naming the value."""
    with pytest.raises(ValueError, match="retention="):
        make(tmp_path, MemoryScheduler(), Clock(), retention=retention)


@pytest.mark.parametrize("length", [0, -1, True, 2.0, "3"])
def test_array_length_must_be_a_positive_int(tmp_path: Path, length: object) -> None:
    """Lengths that are not ints of at least 1 are refused before anything is submitted."""
    scheduler = MemoryScheduler()
    distributor = make(tmp_path, scheduler, Clock())
    with pytest.raises(ResourceError):
        distributor.submit_array_to_batch_distributor("true", "a", {}, length)  # type: ignore[arg-type]
    assert scheduler.submissions == []


def test_default_submit_root_is_named_by_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$DISTRIBUTOR_SUBMIT_ROOT/<scheduler>/<cluster>``, the cluster name made safe."""
    monkeypatch.setenv("DISTRIBUTOR_SUBMIT_ROOT", str(tmp_path))
    distributor = BatchDistributor("a b", MemoryScheduler(), worker="/w")
    assert distributor.submit_root.path == tmp_path / "memory" / "a_b"


def test_running_and_queueing_queries_poll_once(tmp_path: Path) -> None:
    """get_running and get_queueing_errors cost one status command each, even when every
    call is due for a poll."""
    scheduler, clock = MemoryScheduler(), Clock()
    distributor = make(tmp_path, scheduler, clock)
    ids = list(distributor.submit_array_to_batch_distributor("true", "a", {}, 2).values())
    scheduler.run(ids[0])
    before = scheduler.calls["status"]
    assert distributor.get_running(ids) == {ids[0]}
    assert scheduler.calls["status"] == before + 1
    assert distributor.get_queueing_errors(ids) == {}
    assert scheduler.calls["status"] == before + 2
