"""Lookup by name on the real Slurm: submissions whose answer was lost are found by a new
distributor with one squeue (matched by their script's path), a job Slurm has forgotten by
its own start record; the squeue listing's parser round-trips."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError, TaskInstanceStatus
from distributor.batch import NamedJob, PollPolicy
from distributor.testing import wait_for_exit_info
from distributor.testing.faults import SimulatedCrash
from distributor_slurm import SlurmDistributor
from distributor_slurm.parsers import parse_named_jobs
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
FAST = PollPolicy(min_interval=0.3, max_interval=1.0, accounting_interval=1.0,
                  accounting_delay=10.0, lost_grace=60.0)  # fmt: skip


def slurm(root: Path) -> SlurmDistributor:
    """A distributor on the dev cluster and `root`."""
    return SlurmDistributor("dev", submit_root=root, slurm_conf=SLURM_CONF, poll_policy=FAST)


def crash_after_sbatch(distributor: SlurmDistributor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every later sbatch of `distributor` succeeds, then its caller "dies"."""
    real_submit = distributor.client.submit

    def submit_then_crash(script: Path) -> str:
        real_submit(script)
        raise SimulatedCrash("killed right after sbatch")

    monkeypatch.setattr(distributor.client, "submit", submit_then_crash)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Poll `condition` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.1)


@live
def test_lost_submissions_are_found_by_a_new_distributor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recorded job, a lost array and a lost single job under the same name prefix: one
    squeue finds both lost ones, their ids are answered, and later lookups cost nothing."""
    root = tmp_path / "root"
    first = slurm(root)
    recorded = first.submit_to_batch_distributor("true", "look_recorded", {"runtime": 60})
    crash_after_sbatch(first, monkeypatch)
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor("exit 0", "look_array", {"runtime": 60}, 3)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("exit 5", "look_single", {"runtime": 60})
    second = slurm(root)
    found = second.find_by_name(["look_recorded", "look_array", "look_single", "look_never"])
    assert second.client.runner.calls == Counter({"squeue": 1})
    assert set(found) == {"look_recorded", "look_array", "look_single"}
    assert found["look_recorded"] == {0: recorded}
    assert sorted(found["look_array"]) == [0, 1, 2]
    assert all(did.endswith(f"_{step}") for step, did in found["look_array"].items())
    for did in found["look_array"].values():
        assert wait_for_exit_info(second, did, 120, 0.3).error_state == TaskInstanceStatus.DONE
    single = found["look_single"][0]
    info = wait_for_exit_info(second, single, 120, 0.3)
    assert info.error_state == TaskInstanceStatus.ERROR and "status 5" in info.error_message
    third = slurm(root)
    assert third.find_by_name(["look_array", "look_single"]) == {
        name: found[name] for name in ("look_array", "look_single")
    }
    assert third.client.runner.calls == Counter(), "linked submissions are recorded"


@live
def test_a_job_slurm_forgot_is_found_by_its_start_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """squeue no longer lists it (asked by name, nothing comes back): the start record the
    task wrote names its id."""
    root = tmp_path / "root"
    first = slurm(root)
    crash_after_sbatch(first, monkeypatch)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("true", "look_forgotten", {"runtime": 60})
    (task_dir,) = root.glob("look_forgotten-*")
    wait_for(lambda: (task_dir / "exit.json").exists(), "the job to end")
    second = slurm(root)
    monkeypatch.setattr(second.client, "find_jobs", lambda names: [])  # as after MinJobAge
    found = second.find_by_name(["look_forgotten"])
    (did,) = found["look_forgotten"].values()
    assert wait_for_exit_info(second, did, 120, 0.3).error_state == TaskInstanceStatus.DONE


names = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="|"),
                min_size=1, max_size=40)  # fmt: skip
paths = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=60)


@given(st.lists(st.tuples(st.integers(1, 10**11), names, paths), max_size=20,
                unique_by=lambda job: job[0]))  # fmt: skip
def test_the_listing_parser_round_trips(jobs: list[tuple[int, str, str]]) -> None:
    """Every job comes back once, with its name and script path, lowest id first; array
    tasks listed one per line collapse into their job."""
    lines = [f"{job}|{name}|{path}|" for job, name, path in jobs]
    lines += [f"{job}|{name}|{path}|" for job, name, path in jobs[:3]]  # running array tasks
    parsed = parse_named_jobs("\n".join(lines) + "\n")
    expected = [NamedJob(str(job), name, path) for job, name, path in sorted(jobs)]
    assert parsed == expected


def test_the_listing_parser_refuses_garbage() -> None:
    """A line that is not a job refuses the whole output, keeping the raw text."""
    with pytest.raises(SchedulerOutputError) as caught:
        parse_named_jobs("JOBID|NAME|COMMAND|\n")
    assert caught.value.raw == "JOBID|NAME|COMMAND|\n"
