"""`LsfScheduler`: the `BatchScheduler` contract in LSF's terms — ids, the job script (identity,
directives, the worker's limits), refusals before bsub, and the array limit from bparams."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ResourceError, parse_request
from distributor.batch import BatchJob, BatchScheduler, CommandResult, RecordingTransport
from distributor_lsf import DECLARED_RESOURCES, LsfClient, LsfDistributor, LsfScheduler
from distributor_lsf.scheduler import RUNTIME_BACKSTOP, run_limit
from distributor_lsf.testing import command_environment

BIN = Path(__file__).with_name("bin")


def answering_bsub() -> RecordingTransport:
    """A transport on which bsub accepts job 4711 and nothing else runs."""
    return RecordingTransport(
        lambda argv, n: (
            CommandResult(argv, 0, "Job <4711> is submitted to default queue <normal>.\n", "")
            if argv[0] == "bsub"
            else None
        ),
        fallback=None,
    )


def make_job(
    tmp_path: Path, resources: dict[str, object], array: tuple[int, int] | None = None
) -> BatchJob:
    """A job as `BatchDistributor` hands it over, writing into `tmp_path`."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return BatchJob(
        command="echo hi",
        name="my task",
        job_name="my_task",
        request=parse_request(resources, DECLARED_RESOURCES),
        task_dir=tmp_path,
        worker="/opt/bin/distributor-worker",
        write=write,
        array=array,
    )


def worker_argv(script: str) -> list[str]:
    """The words of the script's ``exec distributor-worker ...`` line."""
    line = next(line for line in script.splitlines() if line.startswith("exec "))
    return shlex.split(line)[1:]


def test_it_is_a_batch_scheduler() -> None:
    """The scheduler satisfies the protocol at run time as well as statically (the annotated
    assignment below is checked by mypy)."""
    scheduler: BatchScheduler = LsfScheduler(LsfClient())
    assert isinstance(scheduler, BatchScheduler)
    assert (scheduler.name, scheduler.title) == ("lsf", "LSF")
    assert scheduler.declared_resources is DECLARED_RESOURCES


@given(
    st.integers(1, 10**12 - 1).map(str),
    st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(1, 300))),
)
def test_task_ids_map_back_to_their_key(key: str, array: tuple[int, int] | None) -> None:
    """Every id of a job names its job key, array ids use LSF's 1-based ``[i]``."""
    scheduler = LsfScheduler(LsfClient())
    ids = scheduler.task_ids(key, array)
    assert len(ids) == (1 if array is None else array[1]) == len(set(ids))
    assert all(scheduler.job_key(did) == key for did in ids)
    if array is not None:
        assert ids[0] == f"{key}[1]" and ids[-1] == f"{key}[{array[1]}]"


@pytest.mark.parametrize("text", ["", "0", "12[0]", "12[1-3]", "12_3", "12.3", "-1", "1 2"])
def test_foreign_ids_have_no_job_key(text: str) -> None:
    """Text this plugin never issues has no job key (so it never reaches a command line)."""
    assert LsfScheduler(LsfClient()).job_key(text) is None


@given(st.integers(1, 10**7))
def test_run_limit_rounds_up_to_whole_minutes(seconds: int) -> None:
    """``-W`` is never below the request, less than a minute above it, and says what it means."""
    text, limit = run_limit(seconds)
    hours, minutes = (int(part) for part in text.split(":"))
    assert hours * 3600 + minutes * 60 == limit and minutes < 60
    assert seconds <= limit < seconds + 60


def test_single_job_script(tmp_path: Path) -> None:
    """A single task: ``bsub`` once, its id, the directives, LSB_JOBID as identity, and the
    worker's runtime limit `RUNTIME_BACKSTOP` seconds after LSF's (rounded-up) run limit."""
    transport = answering_bsub()
    scheduler = LsfScheduler(LsfClient(transport=transport))
    job = make_job(
        tmp_path,
        {"runtime": 61, "memory": "1G", "cores": 2, "queue": "short", "lsf.project": "p1"},
    )
    assert scheduler.submit(job) == "4711"
    assert transport.argvs == [("bsub",)]
    script = (tmp_path / "job.sh").read_text()
    for line in (
        "#BSUB -J my_task",
        f"#BSUB -o {tmp_path}/stdout.log",
        "#BSUB -q short",
        "#BSUB -n 2",
        "#BSUB -R span[hosts=1]",
        "#BSUB -M 1024MB",
        "#BSUB -R rusage[mem=1024MB]",
        "#BSUB -W 0:02",
        "#BSUB -P p1",
        'DISTRIBUTOR_ID="$LSB_JOBID"',
        "unset DISTRIBUTOR_ARRAY_STEP_ID",
    ):
        assert line in script.splitlines(), line
    argv = worker_argv(script)
    limit = float(argv[argv.index("--runtime-limit") + 1])
    assert limit == 120 + RUNTIME_BACKSTOP
    assert argv[argv.index("--memory-limit") + 1] == str(2**30)
    assert argv[argv.index("--record") + 1] == str(tmp_path / "exit.json")


def test_array_chunk_script(tmp_path: Path) -> None:
    """A chunk at offset 5: ``-J name[1-n]%cap``, per-element logs, ``J[i]`` identity and step
    ``LSB_JOBINDEX + 4``; without a runtime the worker gets no runtime limit."""
    scheduler = LsfScheduler(LsfClient(transport=answering_bsub()), unit_for_limits="KB")
    job = make_job(tmp_path, {"memory": "1M", "lsf.array_cap": "3"}, array=(5, 4))
    assert scheduler.task_ids(scheduler.submit(job), job.array) == [
        f"4711[{index}]" for index in (1, 2, 3, 4)
    ]
    script = (tmp_path / "job.sh").read_text().splitlines()
    assert "#BSUB -J my_task[1-4]%3" in script
    assert f"#BSUB -e {tmp_path}/stderr-%I.log" in script
    assert "#BSUB -M 1024" in script
    assert 'DISTRIBUTOR_ID="${LSB_JOBID}[${LSB_JOBINDEX}]"' in script
    assert "DISTRIBUTOR_ARRAY_STEP_ID=$((LSB_JOBINDEX + 4))" in script
    argv = worker_argv("\n".join(script))
    assert "--runtime-limit" not in argv
    assert argv[argv.index("--record") + 1] == str(tmp_path / "exit-{step}.json")


def test_unwritable_queue_is_refused_naming_the_key() -> None:
    """A queue that cannot be written into ``#BSUB -q`` is a ResourceError about ``queue``."""
    scheduler = LsfScheduler(LsfClient())
    with pytest.raises(ResourceError) as caught:
        scheduler.check_request(parse_request({"queue": "normal -M 1"}))
    assert caught.value.key == "queue"
    scheduler.check_request(parse_request({"queue": "normal"}))


def test_unknown_unit_for_limits_is_refused() -> None:
    """``unit_for_limits`` must be one of LSF's units (or None)."""
    with pytest.raises(ValueError, match="unit_for_limits='PB'"):
        LsfDistributor("fake", submit_root="/tmp/lsf-root", unit_for_limits="PB")


def test_array_limit_is_read_from_bparams(tmp_path: Path) -> None:
    """Chunks are as large as the cluster's MAX_JOB_ARRAY_SIZE (``bparams -a``, asked once),
    and ``max_array_size`` only lowers it."""
    env = command_environment(
        BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), FAKE_LSF_MAX_ARRAY_SIZE="3"
    )
    cluster = LsfDistributor("fake", submit_root=tmp_path / "a", lsf_env=env)
    assert cluster.array_chunk_size() == cluster.array_chunk_size() == 3
    assert cluster.client.runner.calls["bparams"] == 1
    capped = LsfDistributor("fake", submit_root=tmp_path / "b", lsf_env=env, max_array_size=2)
    assert capped.array_chunk_size() == 2
    default = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))
    assert LsfClient(env=default).max_array_size() == 1000
