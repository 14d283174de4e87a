"""Lookup by name on the fake cluster: `LsfClient.find_jobs` (one ``bjobs -a`` of the user's
jobs) and `LsfDistributor.find_by_name` settling submissions whose answer was lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import NamedJob, PollPolicy
from distributor.testing import wait_for_exit_info
from distributor.testing.faults import SimulatedCrash
from distributor_lsf import LsfClient, LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fake cluster of this test's own; its jobs are killed afterwards."""
    with killing_all_jobs(
        command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), FAKE_LSF_SLOTS="8")
    ) as cluster:
        yield dict(cluster)


def crashing_after_bsub(
    monkeypatch: pytest.MonkeyPatch, distributor: LsfDistributor, keys: list[str]
) -> None:
    """Make the distributor's next submissions "die" right after bsub accepted them (the job
    exists, the answer is lost); the job ids bsub gave go to `keys`."""
    submit = distributor.client.submit

    def submit_then_crash(script: str) -> str:
        keys.append(submit(script))
        raise SimulatedCrash("killed after bsub answered")

    monkeypatch.setattr(distributor.client, "submit", submit_then_crash)


def wait_until_unlisted(env: dict[str, str], name: str, timeout: float = 30.0) -> None:
    """Wait until bjobs lists no job named `name` (it ended, and was cleaned)."""
    client = LsfClient(env=env)
    deadline = time.monotonic() + timeout
    while client.find_jobs([name]):
        if time.monotonic() > deadline:
            raise AssertionError(f"bjobs still lists {name!r} after {timeout}s")
        time.sleep(0.1)


def test_find_jobs_lists_jobs_by_name_with_one_bjobs(env: dict[str, str], tmp_path: Path) -> None:
    """Pending, running and finished jobs of the asked names, arrays once under their own name
    (not ``name[i]``), oldest first; other names are left out; one bjobs call."""
    lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
    first = lsf.submit_array_to_batch_distributor("true", "alpha", {}, 3)[0].split("[")[0]
    other = lsf.submit_to_batch_distributor("sleep 600", "beta", {})
    second = lsf.submit_to_batch_distributor("sleep 600", "alpha", {})
    assert wait_for_exit_info(lsf, f"{first}[3]", 30, 0.1).error_state == TaskInstanceStatus.DONE
    client = LsfClient(env=env)
    assert client.find_jobs(["alpha", "gamma"]) == [
        NamedJob(first, "alpha"),
        NamedJob(second, "alpha"),
    ]
    assert client.find_jobs({"beta"}) == [NamedJob(other, "beta")]
    assert client.runner.calls["bjobs"] == 2
    assert client.find_jobs([]) == [] and client.runner.calls["bjobs"] == 2


@pytest.mark.parametrize("consistent", ["N", "Y"])
def test_find_jobs_without_any_job(env: dict[str, str], consistent: str) -> None:
    """bjobs' "No job found" (exit 0, or 255 with LSB_BJOBS_CONSISTENT_EXIT_CODE=Y) is an
    empty answer, not an error."""
    client = LsfClient(env={**env, "LSB_BJOBS_CONSISTENT_EXIT_CODE": consistent})
    assert client.find_jobs(["alpha"]) == []
    assert client.runner.calls["bjobs"] == 1


def test_lost_answer_is_found_by_a_new_distributor(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission that died after bsub accepted it (single task and array) is found by name
    by a new distributor on the same submit root, with one bjobs for both, and its exit info is
    then answered; a second lookup answers from the index without any command."""
    root = tmp_path / "root"
    first = LsfDistributor("fake", submit_root=root, lsf_env=env, poll_policy=FAST)
    keys: list[str] = []
    crashing_after_bsub(monkeypatch, first, keys)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("exit 3", "lost single", {"runtime": 600})
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor("true", "lost array", {"runtime": 600}, 2)
    single, array = keys
    second = LsfDistributor("fake", submit_root=root, lsf_env=env, poll_policy=FAST)
    found = second.find_by_name(["lost single", "lost array", "never submitted"])
    assert found == {
        "lost single": {0: single},
        "lost array": {0: f"{array}[1]", 1: f"{array}[2]"},
    }
    assert second.client.runner.calls["bjobs"] == 1
    assert second.find_by_name(["lost single", "lost array"]) == found
    assert second.client.runner.calls["bjobs"] == 1
    info = wait_for_exit_info(second, single, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.ERROR and "status 3" in info.error_message
    for did in found["lost array"].values():
        assert wait_for_exit_info(second, did, 30, 0.1).error_state == TaskInstanceStatus.DONE


def test_lost_answer_of_a_job_bjobs_forgot_is_found_in_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When bjobs no longer lists the job (CLEAN_PERIOD passed), the worker's start and exit
    records name it, and the lookup still finds it."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"), FAKE_LSF_CLEAN_PERIOD="0")
    with killing_all_jobs(env):
        root = tmp_path / "root"
        first = LsfDistributor("fake", submit_root=root, lsf_env=env, poll_policy=FAST)
        keys: list[str] = []
        crashing_after_bsub(monkeypatch, first, keys)
        with pytest.raises(SimulatedCrash):
            first.submit_array_to_batch_distributor("true", "forgotten", {}, 2)
        wait_until_unlisted(env, "forgotten")
        second = LsfDistributor("fake", submit_root=root, lsf_env=env, poll_policy=FAST)
        found = second.find_by_name(["forgotten"])
        assert found == {"forgotten": {0: f"{keys[0]}[1]", 1: f"{keys[0]}[2]"}}
        assert second.client.runner.calls["bjobs"] == 1
        for did in found["forgotten"].values():
            info = wait_for_exit_info(second, did, 30, 0.1)
            assert info.error_state == TaskInstanceStatus.DONE
