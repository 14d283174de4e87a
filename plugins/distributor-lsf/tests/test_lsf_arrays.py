"""Array step mapping: LSF's 1-based LSB_JOBINDEX → the 0-based DISTRIBUTOR_ARRAY_STEP_ID,
across chunks of at most ``max_array_size`` elements."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import SubmissionError, TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info
from distributor_lsf import LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)
WHOAMI = (
    "from distributor_lsf import LsfWorkerNode as W; w = W(); "
    "print(w.distributor_id, w.array_step_id)"
)


def distributor(tmp_path: Path, **settings: str) -> Iterator[LsfDistributor]:
    """A distributor with chunks of 2 elements on a fake cluster with these settings."""
    env = command_environment(
        BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), FAKE_LSF_SLOTS="8", **settings
    )
    with killing_all_jobs(env):
        lsf = LsfDistributor(
            "fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST, max_array_size=2
        )
        lsf.start()
        yield lsf


@pytest.fixture
def chunked(tmp_path: Path) -> Iterator[LsfDistributor]:
    """Arrays are submitted in chunks of two elements."""
    yield from distributor(tmp_path)


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[LsfDistributor]:
    """Chunks of two elements; bsub accepts one submission and then refuses (an esub)."""
    yield from distributor(tmp_path, FAKE_LSF_ACCEPT_JOBS="1")


def test_steps_map_to_lsf_indices_across_chunks(chunked: LsfDistributor, tmp_path: Path) -> None:
    """Step s of chunk offset o is element s - o + 1, and the job sees both numbers."""
    out = tmp_path / "out"
    out.mkdir()
    target = f'{out}/"$DISTRIBUTOR_ARRAY_STEP_ID"'
    command = (
        f'echo "$LSB_JOBID $LSB_JOBINDEX $DISTRIBUTOR_ID $DISTRIBUTOR_ARRAY_STEP_ID" > {target}; '
        f"{shlex.quote(sys.executable)} -c {shlex.quote(WHOAMI)} >> {target}"
    )
    steps = chunked.submit_array_to_batch_distributor(command, "map", {"runtime": 600}, 5)
    assert sorted(steps) == [0, 1, 2, 3, 4]
    assert chunked.client.runner.calls["bsub"] == 3
    jobs = [steps[0].split("[")[0], steps[2].split("[")[0], steps[4].split("[")[0]]
    assert [steps[s] for s in range(5)] == [
        f"{jobs[0]}[1]",
        f"{jobs[0]}[2]",
        f"{jobs[1]}[1]",
        f"{jobs[1]}[2]",
        f"{jobs[2]}[1]",
    ]
    for step, did in steps.items():
        info = wait_for_exit_info(chunked, did, 30, 0.1)
        assert info.error_state == TaskInstanceStatus.DONE, info
        lsf_line, node_line = (out / str(step)).read_text().splitlines()
        job, index, exported, exported_step = lsf_line.split()
        assert f"{job}[{index}]" == did == exported
        assert int(exported_step) == step == (step // 2) * 2 + int(index) - 1
        assert node_line == f"{did} {step}"


def test_job_script_of_a_chunk(chunked: LsfDistributor) -> None:
    """The second chunk's script names the array 1-n and turns LSB_JOBINDEX into its step."""
    chunked.submit_array_to_batch_distributor(
        "true", "a b", {"runtime": 90, "lsf.array_cap": "1", "memory": "1G"}, 3
    )
    scripts = sorted(chunked.submit_root.path.glob("*/job.sh"), key=lambda p: p.stat().st_mtime)
    second = scripts[-1].read_text()
    assert "#BSUB -J a_b[1-1]%1\n" in second
    assert "DISTRIBUTOR_ARRAY_STEP_ID=$((LSB_JOBINDEX + 1))" in second
    assert 'DISTRIBUTOR_ID="${LSB_JOBID}[${LSB_JOBINDEX}]"' in second
    assert "#BSUB -W 0:02\n" in second and "#BSUB -M 1024MB\n" in second
    assert "#BSUB -R rusage[mem=1024MB]\n" in second
    assert "/stdout-%I.log" in second


def test_refused_chunk_kills_the_earlier_ones(refusing: LsfDistributor) -> None:
    """When bsub refuses the second chunk, the first is killed and SubmissionError says why."""
    lsf = refusing
    with pytest.raises(SubmissionError, match="Request aborted by esub") as caught:
        lsf.submit_array_to_batch_distributor("sleep 600", "refused", {"runtime": 600}, 4)
    assert caught.value.stderr.strip() == "Request aborted by esub. Job not submitted."
    assert lsf.client.runner.calls["bkill"] == 1
    first = lsf.tracker.tracked()
    assert len(first) == 2
    for did in first:
        assert wait_for_exit_info(lsf, did, 30, 0.1).error_state == TaskInstanceStatus.KILLED_SELF
