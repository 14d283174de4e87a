"""HTCondorScheduler: the BatchScheduler contract, ids, what a submission writes, clusters of
the wrong size, held jobs, queueing errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from distributor import (
    ResourceRequest,
    SchedulerOutputError,
    SubmissionError,
    TaskInstanceStatus,
)
from distributor.batch import (
    BatchJob,
    BatchScheduler,
    CommandResult,
    JobPhase,
    RecordingTransport,
    TrackedJob,
)
from distributor_htcondor import HTCondorClient, HTCondorScheduler

Answer = Callable[[tuple[str, ...], int], CommandResult]


def scheduler_for(answer: Answer, **options: bool) -> tuple[HTCondorScheduler, RecordingTransport]:
    """A scheduler whose commands `answer` replies to (nothing runs)."""
    transport = RecordingTransport(answer, fallback=None)
    return HTCondorScheduler(HTCondorClient(transport=transport), **options), transport


def job_for(tmp_path: Path, array: tuple[int, int] | None, **request: int) -> BatchJob:
    """A submission of `sleep 1` writing into `tmp_path`."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return BatchJob(
        command="sleep 1",
        name="fit model",
        job_name="fit_model",
        request=ResourceRequest(**request),  # type: ignore[arg-type]  # test shorthand
        task_dir=tmp_path,
        worker="/opt/venv/bin/distributor-worker",
        write=write,
        array=array,
    )


def ads(*ads: Mapping[str, object]) -> str:
    """condor_q -json output of `ads`."""
    return json.dumps(list(ads))


def test_it_is_a_batch_scheduler() -> None:
    """HTCondorScheduler satisfies the BatchScheduler protocol (statically and at runtime)."""
    scheduler: BatchScheduler = HTCondorScheduler(HTCondorClient())
    assert isinstance(scheduler, BatchScheduler)
    assert (scheduler.name, scheduler.title) == ("htcondor", "HTCondor")
    assert scheduler.array_limit() == 20000
    assert scheduler.job_name("fit model; rm -rf /") == "fit_model__rm_-rf__"


def test_ids_are_cluster_dot_proc() -> None:
    """A single task is C.0 of its cluster; chunk (offset, n) is C.0 .. C.(n-1); only
    canonical cluster.proc ids have a job key."""
    scheduler = HTCondorScheduler(HTCondorClient())
    assert scheduler.task_ids("12", None) == ["12.0"]
    assert scheduler.task_ids("12", (40, 3)) == ["12.0", "12.1", "12.2"]
    assert scheduler.job_key("12.3") == "12"
    for bogus in ("12", "12.", "012.0", "12.0; id", "$(id).0"):
        assert scheduler.job_key(bogus) is None


def test_submit_writes_the_script_and_the_description(tmp_path: Path) -> None:
    """The chunk's step is $(Process) plus its offset, the worker enforces the runtime at
    the request itself (the pool's allowed_job_duration a minute later), and the description
    queues the chunk's jobs under the job name."""
    submitted = "Submitting job(s)...\n3 job(s) submitted to cluster 7.\n"
    scheduler, transport = scheduler_for(lambda argv, _: CommandResult(argv, 0, submitted))
    job = job_for(tmp_path, (40, 3), runtime_seconds=90, memory_bytes=2**30)
    assert scheduler.submit(job) == "7"
    assert transport.argvs == [("condor_submit", str(tmp_path / "job.sub"))]
    script = (tmp_path / "job.sh").read_text()
    assert "DISTRIBUTOR_ARRAY_STEP_ID=$((DISTRIBUTOR_CONDOR_PROC + 40))" in script
    assert "--runtime-limit 90 " in script and f"--memory-limit {2**30} " in script
    assert f"--record '{tmp_path}/exit-{{step}}.json'" in script
    description = (tmp_path / "job.sub").read_text()
    assert "batch_name = fit_model\n" in description
    assert '+DistributorName = "fit_model"\n' in description
    assert "allowed_job_duration = 150\n" in description
    assert description.endswith("queue 3\n")


def test_a_cluster_of_the_wrong_size_is_removed(tmp_path: Path) -> None:
    """condor_submit queuing another number of jobs than asked for: the cluster is removed
    and the submission refused."""

    def answer(argv: tuple[str, ...], _: int) -> CommandResult:
        if argv[0] == "condor_submit":
            return CommandResult(argv, 0, "2 job(s) submitted to cluster 7.\n")
        return CommandResult(argv, 0, "All jobs in cluster 7 have been marked for removal\n")

    scheduler, transport = scheduler_for(answer)
    with pytest.raises(SubmissionError, match="queued 2 jobs in cluster 7, not 3"):
        scheduler.submit(job_for(tmp_path, (0, 3)))
    assert transport.of("condor_rm") == [("condor_rm", "7")]


def test_a_wrong_cluster_that_cannot_be_removed_is_in_doubt(tmp_path: Path) -> None:
    """If that cluster cannot be removed, the submission is in doubt, not refused."""

    def answer(argv: tuple[str, ...], _: int) -> CommandResult:
        if argv[0] == "condor_submit":
            return CommandResult(argv, 0, "2 job(s) submitted to cluster 7.\n")
        return CommandResult(argv, 1, "", "Permission denied to remove job 7.0\n")

    scheduler, _ = scheduler_for(answer)
    with pytest.raises(SchedulerOutputError, match="condor_rm of the cluster failed"):
        scheduler.submit(job_for(tmp_path, (0, 3)))


MEMORY_HOLD = {
    "ClusterId": 5,
    "ProcId": 0,
    "JobStatus": 5,
    "HoldReasonCode": 34,
    "HoldReasonSubCode": 102,
    "HoldReason": "Error from slot1@node: Job has gone over memory limit of 64 megabytes.",
}
TRANSFER_HOLD = {
    "ClusterId": 5,
    "ProcId": 1,
    "JobStatus": 5,
    "HoldReasonCode": 13,
    "HoldReasonSubCode": 2,
    "HoldReason": "Transfer input files failure",
}
IDLE = {"ClusterId": 5, "ProcId": 2, "JobStatus": 1}


@pytest.mark.parametrize("remove_held", [True, False])
def test_a_hold_for_a_limit_is_final_and_lingers(remove_held: bool) -> None:
    """A job held for its memory limit is final (Z); it lingers (to be removed) unless
    remove_held is off. Other holds stay queued."""
    scheduler, _ = scheduler_for(
        lambda argv, _: CommandResult(argv, 0, ads(MEMORY_HOLD, TRANSFER_HOLD, IDLE)),
        remove_held=remove_held,
    )
    statuses = scheduler.query_status(["5.0", "5.1", "5.2"])
    assert statuses["5.0"].phase is JobPhase.FINAL
    assert statuses["5.0"].lingering is remove_held
    assert statuses["5.1"].phase is JobPhase.QUEUED and not statuses["5.1"].lingering
    info = scheduler.classify(TrackedJob("5.0", memory_bytes=64 * 2**20), statuses["5.0"], None)
    assert info.error_state is TaskInstanceStatus.RESOURCE_ERROR
    assert "memory limit of 64.0 MiB" in info.error_message


def test_queueing_errors_come_from_the_last_poll() -> None:
    """Held jobs of the last poll are explained without another command; only a held job
    without an ad costs one condor_q, for all such jobs."""
    scheduler, transport = scheduler_for(
        lambda argv, _: CommandResult(argv, 0, ads(MEMORY_HOLD, TRANSFER_HOLD, IDLE))
    )
    statuses = scheduler.query_status(["5.0", "5.1", "5.2"])
    errors = scheduler.queueing_errors({did: statuses[did] for did in ("5.1", "5.2")})
    assert list(errors) == ["5.1"] and "[TransferInputError], subcode 2" in errors["5.1"]
    assert len(transport.of("condor_q")) == 1
    fresh, transport = scheduler_for(
        lambda argv, _: CommandResult(argv, 0, ads(MEMORY_HOLD, TRANSFER_HOLD, IDLE))
    )
    assert list(fresh.queueing_errors(statuses)) == ["5.1"]
    assert len(transport.of("condor_q")) == 1
