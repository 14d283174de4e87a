"""TrackedDistributor: tracking half of a batch distributor, adoption and termination."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from distributor import (
    RemoteExitInfo,
    RemoteExitInfoNotAvailable,
    ResourceError,
    SchedulerError,
    SubmissionError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import (
    TERMINATION_ATTEMPTS,
    JobPhase,
    JobStatus,
    PollPolicy,
    TrackedDistributor,
    TrackedJob,
)
from distributor.worker import ExitRecord


class Scheduler:
    """A scheduler whose queue the test sets."""

    def __init__(self) -> None:
        self.queue: dict[str, JobStatus] = {}
        self.cancelled: list[list[str]] = []

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        return {i: self.queue[i] for i in distributor_ids if i in self.queue}

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        return {}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")


class Toy(TrackedDistributor):
    """A minimal plugin: ids ``J`` or ``J.T``."""

    def __init__(self, root: Path, scheduler: Scheduler, first: int = 0) -> None:
        self.fake = scheduler
        self.first_array_index = first
        super().__init__(
            "toy", scheduler, submit_root=root, poll_policy=PollPolicy(min_interval=0.0)
        )

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        match = re.fullmatch(r"(\d+)(?:\.(\d+))?", distributor_id)
        if match is None:
            return None
        return match[1], None if match[2] is None else int(match[2])

    def cancel(self, tokens: Sequence[str]) -> None:
        self.fake.cancelled.append(list(tokens))
        for token in tokens:
            for did in list(self.fake.queue):
                if did == token or did.startswith(token + "."):
                    del self.fake.queue[did]

    def queueing_error(self, status: JobStatus) -> str | None:
        return "never" if status.reason == "Impossible" else None


def queued(did: str, reason: str = "") -> JobStatus:
    """A queued status."""
    return JobStatus(did, JobPhase.QUEUED, "PENDING", reason=reason)


def running(did: str) -> JobStatus:
    """A running status."""
    return JobStatus(did, JobPhase.RUNNING, "RUNNING")


def submit_array(toy: Toy, job: str, length: int, offset: int = 0) -> list[str]:
    """Register and track an array chunk as a plugin would."""
    task_dir = toy.submit_root.new_task_dir(job)
    toy.register_job(job, task_dir, memory_bytes=2**30, runtime_seconds=60, array=(offset, length))
    ids = []
    for task in range(toy.first_array_index, toy.first_array_index + length):
        did = f"{job}.{task}"
        toy.tracker.track(did)
        toy.fake.queue[did] = queued(did)
        ids.append(did)
    return ids


def test_status_queries_and_unknown_ids(tmp_path: Path) -> None:
    """Active, running and exit info come from the tracker; foreign ids are unknown."""
    toy = Toy(tmp_path, Scheduler())
    ids = submit_array(toy, "7", 3)
    toy.fake.queue["7.1"] = running("7.1")
    assert toy.get_submitted_or_running([*ids, "bogus", "$(x)"]) == set(ids)
    assert toy.get_running(ids) == {"7.1"}
    with pytest.raises(RemoteExitInfoNotAvailable, match="still running"):
        toy.get_remote_exit_info("7.1")
    with pytest.raises(UnknownDistributorIdError):
        toy.get_remote_exit_info("$(x)")
    assert toy.cluster_name == "toy"


def test_termination_names_whole_chunks_once(tmp_path: Path) -> None:
    """Terminating every task of a chunk names the chunk; part of one names the tasks."""
    toy = Toy(tmp_path, Scheduler())
    whole = submit_array(toy, "7", 3)
    part = submit_array(toy, "8", 3)
    toy.terminate_task_instances([*whole, part[0], "nope", "99"])
    assert toy.fake.cancelled == [["7", "8.0"]]
    assert toy.get_submitted_or_running([*whole, *part]) == {"8.1", "8.2"}
    info = toy.get_remote_exit_info("7.2")
    assert info.error_state == TaskInstanceStatus.KILLED_SELF
    toy.terminate_task_instances(whole)  # settled ids are ignored
    assert len(toy.fake.cancelled) == 1


class Deaf(Toy):
    """A toy whose scheduler ignores plain cancels (`force_cancel` works from the second
    request) and whose termination clock the test sets."""

    def __init__(self, root: Path, scheduler: Scheduler) -> None:
        super().__init__(root, scheduler)
        self.forced: list[list[str]] = []
        self.termination_retry = 10.0
        self.now = 0.0
        self.clock = lambda: self.now

    def cancel(self, tokens: Sequence[str]) -> None:
        self.fake.cancelled.append(list(tokens))

    def force_cancel(self, tokens: Sequence[str]) -> None:
        self.forced.append(list(tokens))
        if len(self.forced) >= 2:
            super().cancel(tokens)

    def poll_at(self, now: float, ids: list[str]) -> set[str]:
        """`get_submitted_or_running` with the termination clock at `now`."""
        self.now = now
        return self.get_submitted_or_running(ids)


def test_a_termination_without_effect_is_repeated_with_force(tmp_path: Path) -> None:
    """A terminated job still listed `termination_retry` seconds later is force-cancelled,
    the wait doubling, until the scheduler drops it; then it ends K."""
    toy = Deaf(tmp_path, Scheduler())
    ids = submit_array(toy, "7", 2)
    toy.fake.queue["7.0"] = running("7.0")
    toy.get_submitted_or_running(ids)
    with capture_logs() as logs:
        toy.terminate_task_instances(ids)
        assert toy.poll_at(9.9, ids) == set(ids) and toy.forced == []
        assert toy.poll_at(10.0, ids) == set(ids) and toy.forced == [["7"]]
        assert toy.poll_at(29.9, ids) == set(ids) and toy.forced == [["7"]]  # waits 20 s
        toy.poll_at(30.0, ids)
        assert toy.poll_at(30.0, ids) == set() and toy.forced == [["7"], ["7"]]
    assert [e["event"] for e in logs].count("termination_repeated") == 2
    assert {toy.get_remote_exit_info(i).error_state for i in ids} == {
        TaskInstanceStatus.KILLED_SELF
    }


def test_an_ineffective_termination_is_given_up_and_logged(tmp_path: Path) -> None:
    """After `TERMINATION_ATTEMPTS` requests the distributor stops and logs an error; a
    refused force command is followed by a plain cancel, and failures are logged, never
    raised from a status query."""
    toy = Deaf(tmp_path, Scheduler())

    def refuse(tokens: Sequence[str]) -> None:
        toy.forced.append(list(tokens))
        raise SchedulerError("qdel -f refused", argv=["qdel", "-f"], returncode=1)

    def fail(tokens: Sequence[str]) -> None:
        toy.fake.cancelled.append(list(tokens))
        if len(toy.fake.cancelled) > 2:  # the first request and one plain repeat get through
            raise SchedulerError("qdel: cannot connect", argv=["qdel"], returncode=2)

    toy.force_cancel = refuse  # type: ignore[method-assign]
    toy.cancel = fail  # type: ignore[method-assign]
    ids = submit_array(toy, "7", 1)
    toy.get_submitted_or_running(ids)
    with capture_logs() as logs:
        toy.terminate_task_instances(ids)
        for hour in range(1, 48):
            assert toy.poll_at(hour * 3600.0, ids) == set(ids)
    assert len(toy.forced) == TERMINATION_ATTEMPTS - 1
    assert len(toy.fake.cancelled) == TERMINATION_ATTEMPTS
    events = [e["event"] for e in logs]
    assert events.count("termination_force_refused") == TERMINATION_ATTEMPTS - 1
    assert events.count("termination_repeated") == 1
    assert events.count("termination_repeat_failed") == TERMINATION_ATTEMPTS - 2
    assert events.count("termination_ineffective") == 1


def test_queueing_errors_use_the_hook(tmp_path: Path) -> None:
    """Only queued jobs whose status the hook rejects are reported."""
    toy = Toy(tmp_path, Scheduler())
    ids = submit_array(toy, "7", 2)
    toy.fake.queue["7.1"] = queued("7.1", "Impossible")
    assert toy.get_queueing_errors(ids) == {"7.1": "never"}


def test_a_new_instance_adopts_ids_from_the_index(tmp_path: Path) -> None:
    """Ids registered by one instance are tracked by the next, with their record paths."""
    scheduler = Scheduler()
    first = Toy(tmp_path, scheduler, first=1)
    submit_array(first, "7", 2, offset=1000)
    second = Toy(tmp_path, scheduler, first=1)
    assert second.get_submitted_or_running(["7.1", "7.2", "7.3", "7.0", "7", "8.1"]) == {
        "7.1",
        "7.2",
    }
    job = second.tracker.get("7.2")
    assert job is not None and job.record_path is not None
    assert job.record_path.name == "exit-1001.json" and job.memory_bytes == 2**30


def test_array_chunks_map_steps_and_track_records(tmp_path: Path) -> None:
    """Steps are split into chunks, mapped to task ids from first_array_index, and tracked."""
    toy = Toy(tmp_path, Scheduler(), first=1)
    chunks: list[tuple[int, int]] = []

    def submit(offset: int, length: int) -> tuple[str, Path]:
        chunks.append((offset, length))
        return str(10 + len(chunks)), tmp_path / f"chunk{len(chunks)}"

    steps = toy.submit_array_chunks(5, 2, submit, lambda key, task: f"{key}.{task}")
    assert chunks == [(0, 2), (2, 2), (4, 1)]
    assert steps == {0: "11.1", 1: "11.2", 2: "12.1", 3: "12.2", 4: "13.1"}
    job = toy.tracker.get("12.2")
    assert job is not None and job.record_path == tmp_path / "chunk2" / "exit-3.json"


def test_a_refused_chunk_cancels_the_earlier_ones(tmp_path: Path) -> None:
    """When a later chunk is refused, earlier chunks are cancelled and their steps terminated."""
    toy = Toy(tmp_path, Scheduler())

    def submit(offset: int, length: int) -> tuple[str, Path]:
        if offset:
            raise SubmissionError("refused")
        return "7", tmp_path

    with pytest.raises(SubmissionError):
        toy.submit_array_chunks(4, 2, submit, lambda key, task: f"{key}.{task}")
    assert toy.fake.cancelled == [["7"]]
    job = toy.tracker.get("7.1")
    assert job is not None and job.terminated


class Limited(Toy):
    """A toy whose scheduler states an array limit; counts how often it is asked."""

    scheduler = "limited"

    def __init__(self, root: Path, limit: int | None, max_array_size: int | None) -> None:
        super().__init__(root, Scheduler())
        self.max_array_size = max_array_size
        self.limit, self.asked = limit, 0

    def scheduler_array_limit(self) -> int | None:
        self.asked += 1
        return self.limit


@pytest.mark.parametrize(
    ("limit", "cap", "chunk"),
    [(1001, None, 1001), (1001, 50, 50), (20, 50, 20), (None, 7, 7), (None, None, 1000)],
)
def test_array_chunk_size_is_the_smaller_limit_asked_once(
    tmp_path: Path, limit: int | None, cap: int | None, chunk: int
) -> None:
    """The scheduler's limit (asked once) capped by max_array_size; 1000 if neither is known."""
    toy = Limited(tmp_path, limit, cap)
    assert [toy.array_chunk_size() for _ in range(3)] == [chunk] * 3
    assert toy.asked == 1


def test_default_submit_root_is_named_by_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$DISTRIBUTOR_SUBMIT_ROOT/<scheduler>/<cluster>``; a class without a name must be told."""
    monkeypatch.setenv("DISTRIBUTOR_SUBMIT_ROOT", str(tmp_path))
    assert Limited.default_submit_root("a b") == tmp_path / "limited" / "a_b"
    with pytest.raises(TypeError, match="Toy sets no `scheduler`"):
        Toy.default_submit_root("x")


def test_start_prunes_expired_task_directories(tmp_path: Path) -> None:
    """`start` deletes task directories unchanged for `retention` seconds and their index
    entries; a fresh one and everything under retention=None stay."""
    toy = Toy(tmp_path, Scheduler())
    submit_array(toy, "7", 1)
    expired = toy.submit_root.lookup("7")
    assert expired is not None
    for path in [*expired.path.iterdir(), expired.path]:
        os.utime(path, (1, 1))
    fresh = toy.submit_root.new_task_dir("fresh")
    keeper = Toy(tmp_path, Scheduler())
    keeper.retention = None
    keeper.start()
    assert expired.path.exists()
    toy.start()
    assert not expired.path.exists() and toy.submit_root.lookup("7") is None
    assert fresh.exists()


@pytest.mark.parametrize("retention", [0, -1.0, float("nan")])
def test_retention_must_be_positive(tmp_path: Path, retention: float) -> None:
    """A retention that would delete everything at once is refused, naming the value."""
    with pytest.raises(ValueError, match="retention="):
        TrackedDistributor("toy", Scheduler(), submit_root=tmp_path, retention=retention)


@pytest.mark.parametrize("length", [0, -1, True, 2.0, "3"])
def test_array_length_must_be_a_positive_int(tmp_path: Path, length: object) -> None:
    """Lengths that are not ints of at least 1 are refused before anything is submitted."""
    toy = Toy(tmp_path, Scheduler())
    with pytest.raises(ResourceError):
        toy.submit_array_chunks(length, 2, lambda o, n: ("1", tmp_path), lambda k, t: k)


def failing_submission(toy: Toy, error: BaseException, made: list[Path], **label: str) -> None:
    """Open a submission, note its directory, and fail inside it with `error`."""
    with toy.submission("x y", "Toy", **label) as task_dir:
        made.append(task_dir)
        raise error


def test_failed_submission_removes_its_directory_and_says_why(tmp_path: Path) -> None:
    """A SchedulerError inside `submission` becomes SubmissionError; the directory is gone."""
    toy = Toy(tmp_path, Scheduler())
    made: list[Path] = []
    refused = SchedulerError("mysub failed", argv=["mysub"], returncode=1, stderr="queue full\n")
    with pytest.raises(SubmissionError, match="Toy refused task 'x y': queue full") as caught:
        failing_submission(toy, refused, made)
    assert caught.value.argv == ("mysub",) and caught.value.returncode == 1
    with pytest.raises(KeyError):
        failing_submission(toy, KeyError("anything else"), made, label="other")
    assert made[1].name.startswith("other-")
    assert not any(path.exists() for path in made)


def test_a_single_task_is_tracked_with_its_record(tmp_path: Path) -> None:
    """`track_task` tracks the job key with exit.json in its directory and returns the key."""
    toy = Toy(tmp_path, Scheduler())
    with toy.submission("one", "Toy") as task_dir:
        pass
    assert toy.track_task("41", task_dir, memory_bytes=2**20, runtime_seconds=60) == "41"
    job = toy.tracker.get("41")
    assert job is not None and job.record_path == task_dir / "exit.json"
    assert (job.memory_bytes, job.runtime_seconds) == (2**20, 60)
