"""Jobs that left bjobs: bhist, then the worker's exit record, then lost (``U``), never ``D``;
the usage of a finished job from LSF's accounting, in bjobs or in bhist.

The fake's ``FAKE_LSF_CLEAN_PERIOD=0`` makes bjobs forget a job the moment it ends (as mbatchd
does after CLEAN_PERIOD), and ``FAKE_LSF_HISTORY=off`` makes bhist find nothing (an event log
that was switched or lost).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import RemoteExitInfoNotAvailable, TaskInstanceStatus, UnknownDistributorIdError
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info, wait_until_running
from distributor.worker import read_exit_record
from distributor_lsf import LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST_SETTINGS = {"FAKE_LSF_TERMINATE_INTERVAL": "0.3", "FAKE_LSF_CLEAN_PERIOD": "0"}


def make(tmp_path: Path, **settings: str) -> Iterator[LsfDistributor]:
    """A distributor on a fake cluster whose bjobs forgets finished jobs at once."""
    env = command_environment(
        BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), **{**FAST_SETTINGS, **settings}
    )
    policy = PollPolicy(
        min_interval=0.1,
        max_interval=0.3,
        accounting_interval=0.3,
        accounting_delay=1.5,
        lost_grace=3.0,
    )
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=policy)
        lsf.start()
        yield lsf


@pytest.fixture
def forgetful(tmp_path: Path) -> Iterator[LsfDistributor]:
    """bjobs forgets finished jobs; bhist remembers them."""
    yield from make(tmp_path)


@pytest.fixture(params=["bjobs", "bhist"])
def accounted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LsfDistributor]:
    """bjobs keeps finished jobs for an hour (their figures come from bjobs), or forgets them
    at once (from bhist)."""
    yield from make(tmp_path, FAKE_LSF_CLEAN_PERIOD="3600" if request.param == "bjobs" else "0")


@pytest.fixture
def amnesiac(tmp_path: Path) -> Iterator[LsfDistributor]:
    """bjobs forgets finished jobs and bhist knows nothing."""
    yield from make(tmp_path, FAKE_LSF_HISTORY="off")


@pytest.fixture
def strict_exit(tmp_path: Path) -> Iterator[LsfDistributor]:
    """bjobs forgets finished jobs and exits 255 when any id is unknown (still printing the
    others), as with LSB_BJOBS_CONSISTENT_EXIT_CODE=Y."""
    yield from make(tmp_path, LSB_BJOBS_CONSISTENT_EXIT_CODE="Y")


def test_bjobs_exit_255_with_partial_output(strict_exit: LsfDistributor) -> None:
    """bjobs' exit 255 with some records printed still reports the jobs it found."""
    running = strict_exit.submit_to_batch_distributor("sleep 600", "running", {"runtime": 600})
    failed = strict_exit.submit_to_batch_distributor("exit 5", "five", {"runtime": 600})
    info = wait_for_exit_info(strict_exit, failed, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.ERROR
    assert strict_exit.get_submitted_or_running([running, failed]) == {running}
    assert strict_exit.tracker.stats.status_commands == strict_exit.client.runner.calls["bjobs"]


def test_bhist_settles_jobs_bjobs_forgot(forgetful: LsfDistributor) -> None:
    """Exit codes and TERM_* reasons come from bhist -l when bjobs no longer shows the job."""
    failed = forgetful.submit_to_batch_distributor("exit 5", "five", {"runtime": 600})
    done = forgetful.submit_to_batch_distributor("true", "ok", {"runtime": 600})
    killed = forgetful.submit_to_batch_distributor("sleep 600", "killed", {"runtime": 600})
    wait_until_running(forgetful, [killed], 30)
    forgetful.terminate_task_instances([killed])
    info = wait_for_exit_info(forgetful, failed, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.ERROR
    assert "exited with status 5" in info.error_message
    assert wait_for_exit_info(forgetful, done, 30, 0.1).error_state == TaskInstanceStatus.DONE
    assert wait_for_exit_info(forgetful, killed, 30, 0.1).error_state == (
        TaskInstanceStatus.KILLED_SELF
    )
    job = forgetful.tracker.get(failed)
    assert job is not None and job.status is not None and job.status.source == "bhist"
    assert forgetful.client.runner.calls["bhist"] >= 1


def test_worker_record_when_history_is_gone(amnesiac: LsfDistributor) -> None:
    """Without bjobs or bhist rows the worker's record decides, after the accounting delay."""
    ok = amnesiac.submit_to_batch_distributor("true", "ok", {"runtime": 600})
    bad = amnesiac.submit_to_batch_distributor("exit 4", "bad", {"runtime": 600})
    assert wait_for_exit_info(amnesiac, ok, 30, 0.1).error_state == TaskInstanceStatus.DONE
    info = wait_for_exit_info(amnesiac, bad, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.ERROR
    assert "exited with status 4" in info.error_message and "exit record" in info.error_message


def test_lost_job_is_unknown_never_done(amnesiac: LsfDistributor) -> None:
    """No bjobs row, no bhist row, no record: no answer during the grace, then a final U."""
    did = amnesiac.submit_to_batch_distributor("true", "lost", {"runtime": 600})
    job = amnesiac.tracker.get(did)
    assert job is not None and job.record_path is not None
    deadline = time.monotonic() + 20
    while not job.record_path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    job.record_path.unlink()  # the job ended; its record is gone too
    seen = []
    waiting: list[str] = []
    while time.monotonic() < deadline:
        try:
            info = amnesiac.get_remote_exit_info(did)
        except RemoteExitInfoNotAvailable as exc:
            waiting.append(str(exc))
            time.sleep(0.1)
            continue
        seen.append(info)
        break
    assert any("still looking" in reason for reason in waiting)
    assert [info.error_state for info in seen] == [TaskInstanceStatus.UNKNOWN_ERROR]
    assert seen[0].finalized and "lost" in seen[0].error_message


def test_decided_exit_info_outlives_every_trace(amnesiac: LsfDistributor) -> None:
    """Decided exit info (and a termination) is written to the task directory's outcome log,
    so a new distributor answers the same after LSF and the records have forgotten the job,
    without asking LSF."""
    bad = amnesiac.submit_to_batch_distributor("exit 4", "bad", {"runtime": 600})
    killed = amnesiac.submit_to_batch_distributor("sleep 600", "killed", {"runtime": 600})
    info = wait_for_exit_info(amnesiac, bad, 30, 0.1)
    amnesiac.terminate_task_instances([killed])
    assert wait_for_exit_info(amnesiac, killed, 30, 0.1).error_state == (
        TaskInstanceStatus.KILLED_SELF
    )
    amnesiac.stop()
    for did, state in ((bad, "E"), (killed, "K")):
        job = amnesiac.tracker.get(did)
        assert job is not None and job.record_path is not None
        logged = amnesiac.submit_root.read_outcomes(job.record_path.parent)[did]
        assert logged["state"] == state and (state != "K" or logged["terminated"])
        job.record_path.unlink(missing_ok=True)
    later = LsfDistributor(
        "fake",
        submit_root=amnesiac.submit_root.path,
        lsf_env=amnesiac.client.env,
        poll_policy=amnesiac.tracker.policy,
    )
    assert later.get_remote_exit_info(bad) == info
    assert later.get_remote_exit_info(killed).error_state == TaskInstanceStatus.KILLED_SELF
    assert later.client.runner.calls == {}


def test_new_distributor_adopts_ids_from_the_submit_root(forgetful: LsfDistributor) -> None:
    """A distributor started later on the same root answers for ids an earlier one issued."""
    single = forgetful.submit_to_batch_distributor("exit 2", "single", {"runtime": 600})
    steps = forgetful.submit_array_to_batch_distributor("exit 0", "arr", {"runtime": 600}, 2)
    later = LsfDistributor(
        "fake",
        submit_root=forgetful.submit_root.path,
        lsf_env=forgetful.client.env,
        poll_policy=forgetful.tracker.policy,
    )
    assert wait_for_exit_info(later, single, 30, 0.1).error_state == TaskInstanceStatus.ERROR
    for did in steps.values():
        assert wait_for_exit_info(later, did, 30, 0.1).error_state == TaskInstanceStatus.DONE
    job_id = steps[0].split("[")[0]
    for bogus in (f"{job_id}[3]", f"{single}[1]", job_id):
        with pytest.raises(UnknownDistributorIdError):
            later.get_remote_exit_info(bogus)


def test_usage_of_a_finished_job_is_lsfs_accounting(accounted: LsfDistributor) -> None:
    """task_usage of a finished job has LSF's run time (whole seconds), CPU time and execution
    host rather than the worker's figures, and the command's exit code from its record."""
    did = accounted.submit_to_batch_distributor("sleep 1.2; exit 3", "accounted", {"runtime": 600})
    assert wait_for_exit_info(accounted, did, 30, 0.1).error_state == TaskInstanceStatus.ERROR
    job = accounted.tracker.get(did)
    assert job is not None and job.record_path is not None and job.status is not None
    expected = "bjobs" if accounted.client.env["FAKE_LSF_CLEAN_PERIOD"] == "3600" else "bhist"
    assert job.status.source == expected
    record = read_exit_record(job.record_path)
    usage = accounted.task_usage(did)
    assert record is not None and usage is not None
    assert usage.host == "fakehost" != record.hostname
    assert usage.elapsed is not None and usage.elapsed.is_integer() and usage.elapsed >= 1
    assert usage.elapsed != record.wall_seconds
    assert usage.cpu is not None and usage.exit_code == 3
