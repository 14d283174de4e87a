"""SgeScheduler without a cell: it is a BatchScheduler, its job scripts, ids, queueing errors,
lookup and state map, over a transport that replays Grid Engine's answers."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

import pytest

from distributor import ResourceError, TaskInstanceStatus, parse_request
from distributor.batch import (
    BatchJob,
    BatchScheduler,
    CommandResult,
    JobPhase,
    JobStatus,
    NamedJob,
    RecordingTransport,
    RetryPolicy,
    SubmitRoot,
    TrackedJob,
)
from distributor_sge import SgeClient, SgeScheduler
from distributor_sge.accounting import AccountingRecord
from distributor_sge.scheduler import RUNTIME_BACKSTOP, stderr_path

MIB = 2**20
QSTAT_J = (
    "job_number:   7\n"
    "error reason    2:   11/24/2026 10:44:18 [0:1]: error: can't chdir to /gone\n"
    "job_number:   9\n"
    "error reason    1:   11/24/2026 10:44:19 [0:2]: error: can't open output file\n"
)


def scheduler(
    answers: Mapping[str, tuple[int, str, str]], **options: object
) -> tuple[SgeScheduler, RecordingTransport]:
    """A scheduler whose commands get `answers` (program → status, stdout, stderr)."""
    replay = RecordingTransport(
        lambda argv, n: CommandResult(argv, *answers[argv[0]]), fallback=None
    )
    client = SgeClient(transport=replay, retry_policy=RetryPolicy(attempts=1), user="me")
    return SgeScheduler(client, **options), replay  # type: ignore[arg-type]  # test options


def batch_job(
    root: SubmitRoot, request: Mapping[str, object], array: tuple[int, int] | None = None
) -> BatchJob:
    """A submission of `request` in a fresh task directory of `root`."""
    task_dir = root.new_task_dir("probe")
    return BatchJob(
        command="echo 'hi there'",
        name="9 lives",
        job_name="_9_lives",
        request=parse_request(request, SgeScheduler.declared_resources),
        task_dir=task_dir,
        worker="/opt/venv/bin/distributor-worker",
        write=lambda file_name, text: root.write_script(task_dir, text, file_name),
        array=array,
    )


def test_it_is_a_batch_scheduler() -> None:
    """SgeScheduler satisfies the BatchScheduler protocol (statically and at runtime)."""
    sge: BatchScheduler = SgeScheduler(SgeClient(user="me"))
    assert isinstance(sge, BatchScheduler)
    assert (sge.name, sge.title) == ("sge", "Grid Engine")
    assert sge.job_name("9 lives") == "_9_lives"


def test_ids_are_job_numbers_and_one_based_tasks() -> None:
    """A single task is its job number; an array chunk's tasks are JOB.1 .. JOB.n."""
    sge, _ = scheduler({})
    assert sge.task_ids("12", None) == ["12"]
    assert sge.task_ids("12", (1000, 3)) == ["12.1", "12.2", "12.3"]
    assert [sge.job_key(i) for i in ("12", "12.3", "12.0", "12_3", "1;id")] == [
        "12",
        "12",
        None,
        None,
        None,
    ]


def test_array_chunk_script(tmp_path: Path) -> None:
    """An array chunk at offset 5 is -t 1-n with step SGE_TASK_ID + 4, memory per slot, the
    runtime and memory limits for the worker, and the pass-through keys."""
    sge, replay = scheduler({"qsub": (0, "41.1-3:1\n", "")})
    root = SubmitRoot(tmp_path / "root")
    request = {
        "memory": "1G",
        "runtime": 120,
        "cores": 2,
        "queue": "all.q",
        "sge.project": "p1",
        "sge.array_cap": 2,
    }
    job = batch_job(root, request, array=(5, 3))
    assert sge.submit(job) == "41"
    assert replay.argvs == [("qsub", "-terse", str(job.task_dir / "job.sh"))]
    script = (job.task_dir / "job.sh").read_text()
    for line in (
        "#$ -N _9_lives",
        "#$ -S /bin/sh",
        f"#$ -o {job.task_dir}",
        f"#$ -e {job.task_dir}",
        "#$ -r n",
        "#$ -cwd",
        "#$ -t 1-3",
        "#$ -tc 2",
        "#$ -q all.q",
        "#$ -pe smp 2",
        "#$ -l h_rt=120",
        "#$ -l h_vmem=512M",
        "#$ -P p1",
        'DISTRIBUTOR_ID="$JOB_ID.$SGE_TASK_ID"',
        "DISTRIBUTOR_ARRAY_STEP_ID=$((SGE_TASK_ID + 4))",
    ):
        assert line in script.splitlines(), line
    worker = shlex.split(script.splitlines()[-1])
    assert worker[worker.index("--runtime-limit") + 1] == f"{120 + RUNTIME_BACKSTOP:g}"
    assert worker[worker.index("--memory-limit") + 1] == str(2**30)
    assert worker[-1] == "echo 'hi there'" and "-V" not in script


def test_single_task_script_with_options(tmp_path: Path) -> None:
    """A single task: no -t, DISTRIBUTOR_ID is JOB_ID; -wd, -V and -r y come from options."""
    sge, _ = scheduler(
        {"qsub": (0, "42\n", "")},
        working_directory=tmp_path,
        inherit_environment=True,
        rerunnable=True,
        environment={"MY_VAR": "it's"},
    )
    job = batch_job(SubmitRoot(tmp_path / "root"), {})
    assert sge.submit(job) == "42"
    lines = (job.task_dir / "job.sh").read_text().splitlines()
    assert {f"#$ -wd {tmp_path}", "#$ -V", "#$ -r y", 'DISTRIBUTOR_ID="$JOB_ID"'} <= set(lines)
    assert "export MY_VAR='it'\"'\"'s'" in lines
    assert not [line for line in lines if line.startswith(("#$ -t", "#$ -l", "#$ -cwd"))]


@pytest.mark.parametrize("queue", ["all.q -l h_vmem=1", "all.q\n#$ -V", "a b", "$(id)"])
def test_a_queue_that_cannot_be_a_directive_is_refused(queue: str) -> None:
    """check_request refuses a queue name that cannot be written into -q."""
    sge, _ = scheduler({})
    with pytest.raises(ResourceError) as caught:
        sge.check_request(parse_request({"queue": queue}, sge.declared_resources))
    assert caught.value.key == "queue"
    sge.check_request(parse_request({"queue": "all.q@node-1"}, sge.declared_resources))


@pytest.mark.parametrize(("value", "limit"), [("2000", 2000), ("0", 75000), ("lots", 75000)])
def test_array_limit_is_max_aj_tasks(value: str, limit: int) -> None:
    """The array limit is max_aj_tasks; 0 (unlimited) or nonsense gives 75000."""
    sge, replay = scheduler({"qconf": (0, f"execd_spool_dir /x\nmax_aj_tasks {value}\n", "")})
    assert sge.array_limit() == limit
    assert replay.argvs == [("qconf", "-sconf")]


def test_queueing_errors_are_one_qstat_j_for_all_eqw_jobs() -> None:
    """Only jobs in an error state are reported, with the reason of their task, from one
    qstat -j for all of them."""
    sge, replay = scheduler({"qstat": (0, QSTAT_J, "")})
    statuses = {
        did: JobStatus(did, JobPhase.QUEUED, state, source="qstat")
        for did, state in {"7.2": "Eqw", "7.3": "Eqw", "9": "Ehqw", "10": "qw"}.items()
    }
    errors = sge.queueing_errors(statuses)
    assert replay.argvs == [("qstat", "-j", "7,9")]
    assert set(errors) == {"7.2", "7.3", "9"}
    assert "Eqw: " in errors["7.2"] and "can't chdir to /gone" in errors["7.2"]
    assert "can't chdir to /gone" in errors["7.3"]  # no reason of its own: its job's
    assert "Ehqw" in errors["9"] and "output file" in errors["9"]
    assert sge.queueing_errors({"10": statuses["10"]}) == {} and len(replay.argvs) == 1


def test_queueing_errors_without_reasons_when_qstat_fails() -> None:
    """If qstat -j cannot be asked, the error state is still reported."""
    sge, _ = scheduler({"qstat": (1, "", "error: commlib error: access denied\n")})
    status = JobStatus("7", JobPhase.QUEUED, "Eqw", source="qstat")
    assert "error state Eqw; it will not start" in sge.queueing_errors({"7": status})["7"]


def test_find_jobs_is_one_command() -> None:
    """find_jobs asks qstat once, for every name at once."""
    listing = (
        "<job_info><queue_info><job_list><JB_job_number>3</JB_job_number><JB_name>a</JB_name>"
        "<state>r</state></job_list></queue_info><job_info><job_list><JB_job_number>2"
        "</JB_job_number><JB_name>b</JB_name><state>qw</state></job_list></job_info></job_info>"
    )
    sge, replay = scheduler({"qstat": (0, listing, "")})
    assert sge.find_jobs({"a", "b"}) == [NamedJob("2", "b"), NamedJob("3", "a")]
    assert replay.argvs == [("qstat", "-xml", "-u", "me")]


def test_cancel_is_qdel_and_force_cancel_qdel_f() -> None:
    """cancel is one qdel of job numbers and task ids; force_cancel adds -f."""
    sge, replay = scheduler({"qdel": (0, "", "")})
    sge.cancel(["7", "8.2"])
    sge.force_cancel(["8.3"])
    assert replay.argvs == [("qdel", "7", "8.2"), ("qdel", "-f", "8.3")]


def test_stderr_is_found_from_the_job_script_after_a_restart(tmp_path: Path) -> None:
    """The state map reads a failed task's stderr, named after the job's -N in its job
    script, so a scheduler that never submitted the job finds it too."""
    submitting, _ = scheduler({"qsub": (0, "77.1-2:1\n", "")})
    job = batch_job(SubmitRoot(tmp_path / "root"), {"memory": "200M"}, array=(0, 2))
    submitting.submit(job)
    (job.task_dir / "_9_lives.e77.2").write_text("Traceback\nMemoryError\n")
    tracked = TrackedJob("77.2", record_path=job.task_dir / "exit-1.json", memory_bytes=200 * MIB)
    assert stderr_path(tracked) == job.task_dir / "_9_lives.e77.2"
    status = AccountingRecord("77", 2, 0, "", 1, maxvmem_bytes=0).to_status()
    fresh, _ = scheduler({})
    info = fresh.classify(tracked, status, None)
    assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR and "MemoryError" in str(info)
    (job.task_dir / "job.sh").unlink()
    assert stderr_path(tracked) is None
    assert fresh.classify(tracked, status, None).error_state == TaskInstanceStatus.ERROR
