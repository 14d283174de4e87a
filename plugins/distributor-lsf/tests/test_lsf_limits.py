"""Limits on the fake cluster: LSF's run limit (SIGUSR2, then a kill after the grace), the
memory limit the worker enforces where LSF does not, and the start record the worker writes."""

from __future__ import annotations

import sys
from pathlib import Path

from distributor import TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info
from distributor.worker import read_exit_record, read_start_record
from distributor_lsf import LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)
HOG = (
    f'{sys.executable} -c "import time; x = []\n'
    "for _ in range(60): x.append(b'x' * (50 * 2**20)); time.sleep(0.05)\""
)


def test_run_limit_kills_a_command_that_ignores_sigusr2(tmp_path: Path) -> None:
    """A command that ignores the run limit's SIGUSR2 is killed after the grace as bkill kills,
    SIGINT first (TERM_RUNLIMIT, Z), before the worker's own limit: the record says the
    worker received SIGUSR2, then SIGINT, and enforced nothing itself."""
    env = command_environment(
        BIN,
        FAKE_LSF_STATE=str(tmp_path / "lsf"),
        FAKE_LSF_MINUTE="1",
        FAKE_LSF_RUNLIMIT_GRACE="1",
        FAKE_LSF_TERMINATE_INTERVAL="10",  # LSF's default: time for the worker's record
    )
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
        did = lsf.submit_to_batch_distributor("trap '' USR2; sleep 600", "usr2", {"runtime": 60})
        info = wait_for_exit_info(lsf, did, 60, 0.1)
        assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, info
        assert "exceeded its runtime limit of 00:01:00" in info.error_message
        assert "TERM_RUNLIMIT" in info.error_message
        job = lsf.tracker.get(did)
        assert job is not None and job.record_path is not None
        record = read_exit_record(job.record_path)
        assert record is not None and not record.exceeded
        assert record.signals_received[:2] == ("SIGUSR2", "SIGINT")


def test_memory_is_enforced_where_lsf_does_not(tmp_path: Path) -> None:
    """With LSB_JOB_MEMLIMIT=n (``-M`` left to an RSS rlimit Linux ignores) the worker kills
    the command at the request: Z, with the limit and the overrun, not LSF's TERM_MEMLIMIT."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), LSB_JOB_MEMLIMIT="n")
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
        did = lsf.submit_to_batch_distributor(HOG, "hog", {"memory": "150M", "runtime": 600})
        info = wait_for_exit_info(lsf, did, 60, 0.1)
        assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, info
        assert "memory limit of 150.0 MiB exceeded" in info.error_message
        assert "distributor-worker" in info.error_message
        assert "TERM_MEMLIMIT" not in info.error_message
        job = lsf.tracker.get(did)
        assert job is not None and job.record_path is not None
        record = read_exit_record(job.record_path)
        assert record is not None and record.exceeded == "memory"


def test_each_element_writes_a_start_record(tmp_path: Path) -> None:
    """Every array element records where and as which id it started, beside its exit record."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
        steps = lsf.submit_array_to_batch_distributor("true", "started", {"runtime": 600}, 2)
        for step, did in steps.items():
            assert wait_for_exit_info(lsf, did, 30, 0.1).error_state == TaskInstanceStatus.DONE
            job = lsf.tracker.get(did)
            assert job is not None and job.record_path is not None
            start = read_start_record(job.record_path.with_name(f"started-{step}.json"))
            assert start is not None
            assert (start.distributor_id, start.array_step_id) == (did, step)
